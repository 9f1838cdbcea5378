"""A fake Twilio for the offline demo and the integration tests (docs/protocols.md §4).

`FakeTwilio` plays three parts, each over real loopback sockets:

* the REST API (`Calls.json` create/update, account and number look-ups), with Basic auth
  and Twilio's error JSON, so the official `twilio` SDK can point its base URL at it;
* the webhook client: status callbacks, the answer/voice URL, async AMD and `<Stream>`
  status callbacks, all form POSTs signed with `X-Twilio-Signature` exactly as Twilio does,
  with the Auth Token (HMAC-SHA1, the default) or a Webhook Setting's SharedKey
  (`shared_key=`, announced by `X-Twilio-Webhooks-Signature-Settings`; `simulator.signing`);
* the far end of a `<Connect><Stream>`: a Media Streams WebSocket client that sends
  `connected`/`start` and then one 160-byte µ-law frame every 20 ms at a real, drift-free
  pace, and "plays" what our server sends at 8 bytes per ms (marks, `clear`), decoding any
  keypad tones it hears.

Like a real tunnel (ngrok, cloudflared), requests are signed over the public URL our server
configured (`https://voice.demo.test/...`) but delivered to the local base it listens on
(`http://127.0.0.1:3335/...`), with the public `Host` preserved.

What the far party does once connected comes from a `CallPlan` (`simulator.scenario`):
`Speak` sends voice-like frames for its duration; `WaitForModel` waits until model audio
played *since the previous WaitForModel* and then `quiet_ms` with nothing queued; keys heard
before a `WaitForDigits` count towards it (IVR type-ahead); after the script the line stays
silent until someone hangs up.

Playback model: a 160-byte frame of our server's audio starts at a 20 ms grid tick at or
after its arrival and counts as played (`played_audio`, mark echoes) when that tick's 20 ms
are over, so a mark is never echoed before its audio could have been heard. `clear` keeps
the part of the frame in flight that had already played and drops the rest.

As strict as Twilio where our server could otherwise get away with something (each strictness
can be relaxed by a flag, for tests that need to look at one thing at a time):

* `<Stream url>` must be `wss://` (Twilio error 31922, "wss is the only supported protocol");
  a `ws://` stream is refused like a failed handshake (`allow_ws_stream=True` relaxes it).
* `<Stream url>` loses its query string (the `<Stream>` doc: url "does not support query
  string parameters"; data goes in `<Parameter>`), so our server cannot rely on one
  (`keep_stream_query=True` keeps it).
* When our server closes the media WebSocket, the TwiML goes on (`<Connect action>` or the
  next verb) and when it runs out the call ends `completed`, as Twilio's does ("Twilio
  resumes the remaining TwiML only after your server closes the WebSocket connection",
  error 31921). `stay_up_after_stream=True` keeps the call up instead, in silence, until our
  server hangs up via REST, TimeLimit fires, the far party hangs up or the fake closes.
* `TimeLimit` above `max_time_limit_s` (14400 s, Twilio's default 4 h call limit) is refused
  with HTTP 400; accounts whose limit was raised (up to 24 h) set 86400.
* REST `Status=canceled` does nothing to an answered call; `Status=completed` ends a call in
  any state (a queued or ringing one ends `canceled`), as the Call resource doc says.
* `CallPlan(jitter_ms=, loss_rate=)` makes the caller's media late or missing
  (`simulator.line`); `PressKeys` puts keypad tones in the caller's audio and sends the
  `dtmf` message (`simulator.keypad`).

Deliberate simplifications (documented so tests do not lean on them):

* A stream that cannot be opened (refused handshake, `ws://`) is a failed verb: it is
  recorded in `SimCall.notifications` with Twilio's error code, the TwiML goes on and, when
  it runs out, the call ends `completed`.
* Verbs other than `<Say>`, `<Pause>`, `<Hangup>`, `<Reject>` and `<Connect><Stream>` are
  recorded in `SimCall.unsupported` and end the call.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import logging
import math
import re
import secrets
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from functools import cache, partial
from types import TracebackType
from typing import Any, Final, Literal
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

import aiohttp
import orjson
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from twilio.request_validator import SIGNATURE_HEADER, SIGNATURE_SETTINGS_HEADER
from yarl import URL

from voicecall_rt.audio import g711
from voicecall_rt.audio.goertzel import DtmfDetector
from voicecall_rt.simulator.keypad import KeyFrame, key_frames
from voicecall_rt.simulator.line import Line
from voicecall_rt.simulator.scenario import (
    CallPlan,
    HangUp,
    Pause,
    PressKeys,
    Speak,
    WaitForDigits,
    WaitForModel,
)
from voicecall_rt.simulator.signing import SharedKey, signature_headers

logger = logging.getLogger(__name__)

API_VERSION: Final = "2010-04-01"
FRAME_BYTES: Final = 160  # 20 ms of 8 kHz µ-law
FRAME_MS: Final = 20
FRAME_S: Final = FRAME_MS / 1000
BYTES_PER_MS: Final = 8

STATUS_EVENTS: Final = frozenset({"initiated", "ringing", "answered", "completed"})
FINAL_STATUSES: Final = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
DTMF_KEYS: Final = frozenset("0123456789*#ABCD")
MACHINE_DETECTION: Final = {"enable": "Enable", "detectmessageend": "DetectMessageEnd"}

# Twilio error codes used by the REST fake.
ERR_AUTHENTICATE: Final = 20003
ERR_NOT_FOUND: Final = 20404
ERR_NO_TO: Final = 21201
ERR_URL: Final = 21205
ERR_TO: Final = 21211
ERR_FROM: Final = 21212
ERR_NO_FROM: Final = 21213
ERR_NOT_IN_PROGRESS: Final = 21220
# Twilio's media-stream errors, recorded as notifications on the call.
ERR_STREAM_HANDSHAKE: Final = 31920  # "Stream - WebSocket - Handshake Error"
ERR_STREAM_SCHEME: Final = 31922  # "Stream - WebSocket - URL Schema Not Supported"
# The fake's catch-all for other bad parameters (not one specific Twilio code).
ERR_INVALID_PARAMETER: Final = 20001
ERR_UNAVAILABLE: Final = 20503
# Twilio's default call limit is 4 h (its "Configurable Call Limits" announcement, 2021:
# per-call TimeLimit from 1 minute up to the account's limit, which can be raised to 24 h).
# Which code Twilio answers a TimeLimit above the account's limit with is not documented
# anywhere we could find (21626 did not turn up in Twilio's error list), nor whether it
# refuses rather than caps it; the fake refuses with its catch-all code, so a server that
# asks for more than the limit finds out before a real account does.
DEFAULT_MAX_TIME_LIMIT_S: Final = 14_400

_E164: Final = re.compile(r"^\+[1-9][0-9]{1,14}$")
_SILENCE_FRAME: Final = bytes([g711.SILENCE]) * FRAME_BYTES
_SILENCE_PAYLOAD: Final = base64.b64encode(_SILENCE_FRAME).decode("ascii")
# After model audio stops, the DTMF detector keeps hearing line silence this long, so a
# tone that ends a burst is closed properly and the next burst starts from a clean state.
_DETECTOR_TAIL_TICKS: Final = 10
_VOICE_LOOP_FRAMES: Final = 50  # 1 s of synthetic voice, looped

CallDirection = Literal["outbound-api", "inbound"]
WebhookKind = Literal["voice", "action", "status", "amd", "stream-status"]


# ---- small records ---------------------------------------------------------------------


@dataclass(frozen=True)
class RestRequest:
    """One REST request the fake answered."""

    method: str
    path: str
    params: dict[str, list[str]]
    status: int


@dataclass(frozen=True)
class CallUpdate:
    """One `POST …/Calls/{CallSid}.json` request (recorded whatever its outcome)."""

    call_sid: str
    params: dict[str, list[str]]
    status: int


@dataclass(frozen=True)
class SentWebhook:
    """One signed request the fake sent to our server."""

    kind: WebhookKind
    call_sid: str
    url: str  # the public URL, as signed
    method: str
    params: dict[str, str]
    signature: str
    status: int | None  # HTTP status of the answer; None when the request failed
    error: str | None = None
    # `X-Twilio-Webhooks-Signature-Settings` when signed with a SharedKey, else None
    signature_settings: str | None = None


@dataclass(frozen=True)
class Notification:
    """An error Twilio would log for the call (its debugger / Notifications resource)."""

    code: int
    message: str


@dataclass(frozen=True)
class MarkEcho:
    """A `mark` echoed back to our server, with what had played when it was echoed."""

    name: str
    played_bytes: int
    stream_ms: int  # stream clock (ms since `start`) at the echo
    cleared: bool  # echoed because of a `clear`, not because its audio played


@dataclass
class _CallConfig:
    url: str | None
    method: str = "POST"
    twiml: str | None = None
    status_callback: str | None = None
    status_callback_method: str = "POST"
    events: frozenset[str] = frozenset({"completed"})
    timeout_s: int = 60
    time_limit_s: int | None = None
    machine_detection: str | None = None
    async_amd: bool = False
    amd_callback: str | None = None
    amd_method: str = "POST"


@dataclass(frozen=True)
class _Outgoing:
    kind: WebhookKind
    url: str
    method: str
    params: dict[str, str]


class _RestError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


# ---- helpers --------------------------------------------------------------------------


def _new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def _rfc2822(moment: datetime) -> str:
    return format_datetime(moment)


def _now() -> datetime:
    return datetime.now(UTC)


def _first(params: dict[str, list[str]], name: str) -> str | None:
    """The first non-empty value of a form parameter (Twilio treats empty as absent)."""
    values = params.get(name)
    if not values or values[0] == "":
        return None
    return values[0]


def _http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _norm_origin(origin: str) -> str:
    """`scheme://host[:port]` lower-cased, default port dropped, http(s) scheme."""
    parts = urlsplit(origin.strip())
    scheme = {"wss": "https", "ws": "http"}.get(parts.scheme.lower(), parts.scheme.lower())
    host = (parts.hostname or "").lower()
    port = parts.port
    if port is not None and (scheme, port) not in (("https", 443), ("http", 80)):
        host = f"{host}:{port}"
    return f"{scheme}://{host}"


@cache
def _voice_payloads() -> tuple[str, ...]:
    """1 s of voice-like audio as base64 frames: 180 Hz and its 2nd/3rd harmonics, amplitude
    modulated at 4 "syllables" a second. Nothing near the DTMF groups (697 Hz and up), RMS
    in the thousands (clearly speech to an energy VAD)."""
    samples: list[int] = []
    for n in range(_VOICE_LOOP_FRAMES * FRAME_BYTES):
        t = n / 8000
        envelope = 0.3 + 0.7 * abs(math.sin(math.pi * 4 * t))
        tone = (
            0.5 * math.sin(2 * math.pi * 180 * t)
            + 0.3 * math.sin(2 * math.pi * 360 * t + 0.5)
            + 0.2 * math.sin(2 * math.pi * 540 * t + 1.0)
        )
        samples.append(round(14000 * envelope * tone))
    audio = g711.encode(samples)
    return tuple(
        base64.b64encode(audio[i : i + FRAME_BYTES]).decode("ascii")
        for i in range(0, len(audio), FRAME_BYTES)
    )


def voice_audio(ms: int) -> bytes:
    """The synthetic far-party voice, `ms` long (for tests that want to compare)."""
    frames = [base64.b64decode(p) for p in _voice_payloads()]
    count = math.ceil(ms / FRAME_MS)
    return b"".join(frames[i % len(frames)] for i in range(count))


# ---- one call -------------------------------------------------------------------------


class SimCall:
    """One simulated call, as the carrier and the far party see it.

    Lists grow as things happen; `wait_for(predicate)` wakes on every change (including every
    20 ms media tick while a stream is up). `ended` is set once the call is over *and* the
    stream is closed and every webhook for it has been delivered.
    """

    def __init__(
        self,
        fake: FakeTwilio,
        *,
        sid: str,
        to: str,
        from_: str,
        direction: CallDirection,
        plan: CallPlan,
        config: _CallConfig,
        create_params: dict[str, list[str]],
    ) -> None:
        self._fake = fake
        self.sid = sid
        self.to = to
        self.from_ = from_
        self.direction: CallDirection = direction
        self.plan = plan
        self.create_params = create_params
        self.date_created = _now()
        self.start_time: datetime | None = None
        self.end_time: datetime | None = None
        self.status = "queued"
        self.statuses: list[str] = []
        self.answered_by: str | None = None
        # TwiML and webhooks
        self.twiml: list[str] = []
        self.said: list[str] = []
        self.unsupported: list[str] = []
        self.errors: list[str] = []
        self.notifications: list[Notification] = []
        self.webhooks: list[SentWebhook] = []
        # media stream (the latest one, if the call was redirected)
        self.stream_sid: str | None = None
        self.stream_url: str | None = None
        # the `<Stream url>` as our server wrote it, when Twilio would not use it as it is
        self.stream_url_requested: str | None = None
        self.start_message: dict[str, Any] | None = None
        self.received: list[dict[str, Any]] = []
        self.protocol_errors: list[str] = []
        self.played_audio = bytearray()
        self.marks_echoed: list[str] = []
        self.mark_echoes: list[MarkEcho] = []
        self.clears: list[int] = []
        self.heard_digits = ""
        self.spoken: list[str] = []
        self.media_sent = 0
        # (media.timestamp in ms, carried voice?) of each inbound frame sent, in order
        self.media_log: list[tuple[int, bool]] = []
        # media.timestamp of each inbound frame the line lost (CallPlan.loss_rate)
        self.media_lost: list[int] = []
        # keys the far party pressed (PressKeys), as each tone ended
        self.keys_pressed = ""
        self.script_done = False
        self.script_timeouts: list[str] = []
        self.ws_close_code: int | None = None
        self.ws_closed_by: Literal["server", "carrier"] | None = None
        self.ended = asyncio.Event()
        # internals
        self._config = config
        self._cond = asyncio.Condition()
        self._answered_at: float | None = None
        self._ended_at: float | None = None
        self._callback_seq = 0
        self._outbox: asyncio.Queue[_Outgoing | None] = asyncio.Queue()
        self._outbox_closed = False
        self._sender: asyncio.Task[None] | None = None
        self._runner: asyncio.Task[None] | None = None
        self._teardown: asyncio.Task[None] | None = None
        self._time_limit: asyncio.Task[None] | None = None
        self._amd: asyncio.Task[None] | None = None
        self._stream: _MediaStream | None = None
        self._stay_up = False
        self._media_stopped = False

    # -- state ----------------------------------------------------------------------------

    @property
    def answered(self) -> bool:
        return self._answered_at is not None

    @property
    def talk_time_s(self) -> float | None:
        """Seconds from answer to the end, on the fake's own clock (what Twilio bills)."""
        if self._answered_at is None or self._ended_at is None:
            return None
        return self._ended_at - self._answered_at

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def events(self) -> list[dict[str, Any]]:
        """Alias of `received`: every message our server sent on the stream(s)."""
        return self.received

    @property
    def played_bytes(self) -> int:
        return len(self.played_audio)

    @property
    def played_ms(self) -> float:
        return len(self.played_audio) / BYTES_PER_MS

    @property
    def queued_bytes(self) -> int:
        """Our server's audio waiting to be played (0 without a live stream)."""
        stream = self._stream
        return stream.queued_bytes if stream is not None and not stream.closed.is_set() else 0

    @property
    def stream_ms(self) -> int:
        """The stream clock: ms since `start` of the latest stream, in whole 20 ms ticks."""
        stream = self._stream
        return stream.stream_ms if stream is not None else 0

    @property
    def streaming(self) -> bool:
        stream = self._stream
        return stream is not None and stream.started and not stream.closed.is_set()

    @property
    def duration_s(self) -> int:
        if self.start_time is None:
            return 0
        end = self.end_time or _now()
        return max(0, round((end - self.start_time).total_seconds()))

    def resource(self) -> dict[str, Any]:
        """The REST call resource (Twilio's JSON shape)."""
        account = self._fake.account_sid
        uri = f"/{API_VERSION}/Accounts/{account}/Calls/{self.sid}.json"
        status = "queued" if self.status == "initiated" else self.status
        return {
            "sid": self.sid,
            "date_created": _rfc2822(self.date_created),
            "date_updated": _rfc2822(_now()),
            "parent_call_sid": None,
            "account_sid": account,
            "to": self.to,
            "to_formatted": self.to,
            "from": self.from_,
            "from_formatted": self.from_,
            "phone_number_sid": None,
            "status": status,
            "start_time": _rfc2822(self.start_time) if self.start_time else None,
            "end_time": _rfc2822(self.end_time) if self.end_time else None,
            "duration": str(self.duration_s) if self.is_final else None,
            "price": None,
            "price_unit": "USD",
            "direction": self.direction,
            "answered_by": self.answered_by,
            "api_version": API_VERSION,
            "forwarded_from": None,
            "group_sid": None,
            "caller_name": None,
            "queue_time": "0",
            "trunk_sid": None,
            "uri": uri,
            "subresource_uris": {
                "notifications": uri.replace(".json", "/Notifications.json"),
                "recordings": uri.replace(".json", "/Recordings.json"),
                "streams": uri.replace(".json", "/Streams.json"),
            },
        }

    # -- waiting ----------------------------------------------------------------------------

    async def _changed(self) -> None:
        async with self._cond:
            self._cond.notify_all()

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float | None = 10.0,  # noqa: ASYNC109 - part of the test-facing API
    ) -> None:
        """Return once `predicate()` is true; raises TimeoutError after `timeout` seconds."""
        async with asyncio.timeout(timeout), self._cond:
            await self._cond.wait_for(predicate)

    async def wait_status(
        self,
        status: str,
        timeout: float | None = 10.0,  # noqa: ASYNC109 - part of the test-facing API
    ) -> None:
        """Return once the call has reached `status` (now or earlier in its history)."""
        await self.wait_for(lambda: status in self.statuses, timeout)

    # -- the far party ---------------------------------------------------------------------

    async def hang_up(self) -> None:
        """The far party hangs up now (mid-whatever); returns when the call has ended.
        Before answer: an outbound callee declining gives `busy`, an inbound caller giving up
        gives `canceled`."""
        if self.answered:
            final = "completed"
        else:
            final = "busy" if self.direction == "outbound-api" else "canceled"
        await self._fake._end(self, final)

    def stop_media(self) -> None:
        """Stop sending inbound media frames without hanging up (a zombie stream)."""
        self._media_stopped = True

    def resume_media(self) -> None:
        self._media_stopped = False

    async def send_dtmf_event(self, digit: str) -> None:
        """The far party presses a key: a Twilio `dtmf` message on the stream."""
        if digit not in DTMF_KEYS:
            raise ValueError(f"not a DTMF key: {digit!r}")
        stream = self._stream
        if stream is None or not stream.started or stream.closed.is_set():
            raise RuntimeError("no live media stream on this call")
        await stream.send_dtmf(digit)


# ---- the media stream client --------------------------------------------------------------


class _MediaStream:
    """One `<Connect><Stream>`: the WebSocket, the 20 ms clock, playback and the script."""

    def __init__(
        self,
        fake: FakeTwilio,
        call: SimCall,
        *,
        url: str,
        parameters: dict[str, str],
        name: str | None,
        status_callback: str | None,
        status_callback_method: str,
    ) -> None:
        self.fake = fake
        self.call = call
        self.url = url
        self.parameters = parameters
        self.sid = _new_sid("MZ")
        self.name = name or self.sid
        self.status_callback = status_callback
        self.status_callback_method = status_callback_method
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.started = False
        self.closed = asyncio.Event()
        self.ended_by: Literal["server", "carrier", "failed"] = "failed"
        self._closing = False
        self._lock = asyncio.Lock()
        self._seq = 0
        # Our server's audio (arrival time, bytes) and mark names, in order.
        self._queue: deque[tuple[float, bytes] | str] = deque()
        self._playing = b""  # the 20 ms frame being played now
        self._playing_since = 0.0
        self._playing_marks: list[str] = []  # marks right behind the frame being played
        self.queued_bytes = 0  # not yet played, including the frame being played
        self.tick = 0
        self._t0 = 0.0
        self._chunk = 0
        self.voice_frames_left = 0
        self._voice_pos = 0
        self.last_audio_tick = 0
        self._detector = DtmfDetector() if fake.detect_dtmf else None
        self._detector_tail = 0
        self._reader: asyncio.Task[None] | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._script: asyncio.Task[None] | None = None
        plan = call.plan
        self._line = Line(jitter_ms=plan.jitter_ms, loss_rate=plan.loss_rate, seed=plan.line_seed)
        self._key_frames: deque[KeyFrame] = deque()  # keys being pressed (PressKeys)
        self._key_events = True
        # Caller messages held back by the line, sent in order by `_send_late` when due.
        self._late: asyncio.Queue[tuple[float, Callable[[], Awaitable[None]]]] = asyncio.Queue()
        self._late_pending = 0
        self._late_sender: asyncio.Task[None] | None = None

    @property
    def stream_ms(self) -> int:
        return self.tick * FRAME_MS

    # -- lifecycle ------------------------------------------------------------------------

    async def run(self) -> Literal["server", "carrier", "failed"]:
        """Open, stream until closed by either side; return who ended it."""
        fake, call = self.fake, self.call
        local = fake._local_url(self.url)
        headers = {**fake._signature_headers(self.url, {}), "User-Agent": "TwilioProxy/1.1"}
        headers.update(fake._tunnel_headers(self.url))
        call.stream_url = self.url
        try:
            self.ws = await fake._http.ws_connect(
                URL(local, encoded=True),
                headers=headers,
                autoping=True,
                timeout=aiohttp.ClientWSTimeout(ws_close=5.0),
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            call.errors.append(f"stream handshake failed: {exc!r}")
            call.notifications.append(Notification(ERR_STREAM_HANDSHAKE, repr(exc)))
            logger.info("fake carrier: stream handshake for %s failed: %r", call.sid, exc)
            self._stream_status("stream-error", f"WebSocket handshake failed: {exc}")
            self._closing = True
            await self._finish("failed")
            return "failed"
        self._reader = fake._spawn(self._read(), f"fake-twilio-ws-read-{call.sid}")
        await self._send_raw({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        if fake.delay_start_ms > 0:
            await asyncio.sleep(fake.delay_start_ms / 1000)
        parameters = dict(self.parameters)
        if fake.start_token_override is not None:
            parameters["call_token"] = fake.start_token_override
        call.stream_sid = self.sid
        self._t0 = asyncio.get_running_loop().time()
        sent = await self._send_numbered(
            lambda seq: {
                "event": "start",
                "sequenceNumber": seq,
                "streamSid": self.sid,
                "start": {
                    "streamSid": self.sid,
                    "accountSid": fake.account_sid,
                    "callSid": call.sid,
                    "tracks": ["inbound"],
                    "customParameters": parameters,
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                },
            },
            record_start=True,
        )
        if sent:
            self.started = True
            self._ticker = fake._spawn(self._tick_loop(), f"fake-twilio-media-{call.sid}")
            self._script = fake._spawn(self._run_script(), f"fake-twilio-script-{call.sid}")
            self._stream_status("stream-started")
            await call._changed()
        await self.closed.wait()
        return self.ended_by

    async def shutdown(self) -> None:
        """The carrier ends the stream (hang-up, redirect, close): `stop`, then close."""
        if self._closing:
            await self.closed.wait()
            return
        self._closing = True
        await self._cancel(self._ticker, self._script, self._late_sender)
        ws = self.ws
        if ws is not None and not ws.closed:
            if self.started:
                call = self.call
                await self._send_numbered(
                    lambda seq: {
                        "event": "stop",
                        "sequenceNumber": seq,
                        "streamSid": self.sid,
                        "stop": {"accountSid": self.fake.account_sid, "callSid": call.sid},
                    },
                    force=True,
                )
            await ws.close()
        if self._reader is not None:
            await asyncio.wait([self._reader])
        if ws is not None:
            self.call.ws_close_code = ws.close_code
            self.call.ws_closed_by = "carrier"
        await self._finish("carrier")

    async def _finish(self, ended_by: Literal["server", "carrier", "failed"]) -> None:
        if self.closed.is_set():
            return
        self.ended_by = ended_by
        self.closed.set()
        if self.started:
            self._stream_status("stream-stopped")
        await self.call._changed()

    async def _cancel(self, *tasks: asyncio.Task[None] | None) -> None:
        current = asyncio.current_task()
        live = [t for t in tasks if t is not None and t is not current and not t.done()]
        for task in live:
            task.cancel()
        if live:
            await asyncio.wait(live)

    def _stream_status(self, event: str, error: str | None = None) -> None:
        if self.status_callback is None:
            return
        params = {
            "AccountSid": self.fake.account_sid,
            "CallSid": self.call.sid,
            "StreamSid": self.sid,
            "StreamName": self.name,
            "StreamEvent": event,
            "Timestamp": _now().isoformat(),
        }
        if error is not None:
            params["StreamError"] = error
        self.fake._enqueue(
            self.call,
            _Outgoing(
                kind="stream-status",
                url=self.status_callback,
                method=self.status_callback_method,
                params=params,
            ),
        )

    # -- sending --------------------------------------------------------------------------

    async def _send_raw(self, message: dict[str, Any]) -> bool:
        ws = self.ws
        if ws is None or ws.closed or self._closing:
            return False
        try:
            async with self._lock:
                await ws.send_str(orjson.dumps(message).decode())
        except (ConnectionError, aiohttp.ClientError):
            return False
        return True

    async def _send_numbered(
        self,
        build: Callable[[str], dict[str, Any]],
        *,
        force: bool = False,
        record_start: bool = False,
    ) -> bool:
        """Send a message carrying the next `sequenceNumber` (numbers never skip or swap)."""
        ws = self.ws
        if ws is None or ws.closed or (self._closing and not force):
            return False
        async with self._lock:
            self._seq += 1
            message = build(str(self._seq))
            if record_start:
                self.call.start_message = message
            try:
                await ws.send_str(orjson.dumps(message).decode())
            except (ConnectionError, aiohttp.ClientError):
                return False
        return True

    async def send_dtmf(self, digit: str) -> None:
        await self._send_numbered(
            lambda seq: {
                "event": "dtmf",
                "sequenceNumber": seq,
                "streamSid": self.sid,
                "dtmf": {"track": "inbound_track", "digit": digit},
            }
        )

    async def _echo_marks(self, names: Iterable[str], *, cleared: bool) -> None:
        call = self.call
        for name in names:
            call.marks_echoed.append(name)
            call.mark_echoes.append(MarkEcho(name, call.played_bytes, self.stream_ms, cleared))
            await self._send_numbered(partial(self._mark_message, name))

    def _mark_message(self, name: str, seq: str) -> dict[str, Any]:
        return {
            "event": "mark",
            "sequenceNumber": seq,
            "streamSid": self.sid,
            "mark": {"name": name},
        }

    def _media_message(self, chunk: str, stamp: str, payload: str, seq: str) -> dict[str, Any]:
        return {
            "event": "media",
            "sequenceNumber": seq,
            "streamSid": self.sid,
            "media": {"track": "inbound", "chunk": chunk, "timestamp": stamp, "payload": payload},
        }

    # -- the 20 ms clock ----------------------------------------------------------------------

    async def _tick_loop(self) -> None:
        """One tick per 20 ms on absolute deadlines (t0 + n·20 ms): play 160 bytes of our
        server's audio, send one inbound frame. Late ticks catch up, so there is no drift."""
        loop = asyncio.get_running_loop()
        call = self.call
        while True:
            n = self.tick + 1
            grid = self._t0 + n * FRAME_S
            delay = grid - loop.time()
            await asyncio.sleep(delay if delay > 0 else 0)
            self.tick = n
            await self._play_tick()
            payload = _SILENCE_PAYLOAD
            digit: str | None = None
            speaking = False
            if self._key_frames:
                key_frame = self._key_frames.popleft()
                payload, digit = key_frame.payload, key_frame.digit
            elif self.voice_frames_left > 0:
                speaking = True
                voice = _voice_payloads()
                payload = voice[self._voice_pos % len(voice)]
                self._voice_pos += 1
                self.voice_frames_left -= 1
            if not call._media_stopped:
                stamp = n * FRAME_MS
                fate = self._line.next(grid)
                if fate.lost:
                    call.media_lost.append(stamp)
                else:
                    await self._emit(
                        grid + fate.delay_s, partial(self._send_media, stamp, payload, speaking)
                    )
                if digit is not None and self._key_events:
                    # Behind the frame that ended the tone, whenever that frame goes out.
                    await self._emit(grid, partial(self.send_dtmf, digit))
            if digit is not None:
                call.keys_pressed += digit
            await call._changed()

    async def _send_media(self, stamp: int, payload: str, voiced: bool) -> None:
        call = self.call
        self._chunk += 1
        sent = await self._send_numbered(
            partial(self._media_message, str(self._chunk), str(stamp), payload)
        )
        if sent:
            call.media_sent += 1
            call.media_log.append((stamp, voiced))

    async def _emit(self, due: float, send: Callable[[], Awaitable[None]]) -> None:
        """Send a caller message now, or at `due` (loop time) behind whatever the line is
        still holding back: nothing overtakes, as on Twilio's one TCP connection."""
        if self._late_pending == 0 and due <= asyncio.get_running_loop().time():
            await send()
            return
        self._late_pending += 1
        self._late.put_nowait((due, send))
        if self._late_sender is None:
            self._late_sender = self.fake._spawn(
                self._send_late(), f"fake-twilio-line-{self.call.sid}"
            )

    async def _send_late(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due, send = await self._late.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            await send()
            self._late_pending -= 1
            await self.call._changed()

    async def _play_tick(self) -> None:
        """Playback at grid time g_n = t0 + n·20 ms. The frame that started at g_(n-1) has now
        finished playing: it counts as played and the marks right behind it are echoed. Then
        the next 160 bytes start playing, taken only from audio that had arrived by g_n, so
        nothing is ever reported played before it arrived plus its own duration."""
        call = self.call
        due: list[str] = []
        if self._playing:
            played = self._playing
            self._playing = b""
            self.queued_bytes -= len(played)
            call.played_audio += played
            self.last_audio_tick = self.tick
            self._detector_tail = _DETECTOR_TAIL_TICKS
            self._hear(played + _SILENCE_FRAME[len(played) :])
            due, self._playing_marks = self._playing_marks, []
        elif self._detector_tail > 0:
            self._detector_tail -= 1
            self._hear(_SILENCE_FRAME)
        grid = self._t0 + self.tick * FRAME_S
        queue = self._queue
        need = FRAME_BYTES
        parts: list[bytes] = []
        while queue:
            head = queue[0]
            if isinstance(head, str):
                # Everything before this mark has played (nothing taken) or is playing now.
                (self._playing_marks if parts else due).append(head)
                queue.popleft()
                continue
            arrived, audio = head
            if need == 0 or arrived > grid:
                break
            take = audio[:need]
            parts.append(take)
            need -= len(take)
            if len(take) == len(audio):
                queue.popleft()
            else:
                queue[0] = (arrived, audio[len(take) :])
        if parts:
            self._playing = b"".join(parts)
            self._playing_since = grid
        if due:
            await self._echo_marks(due, cleared=False)

    async def _clear(self) -> None:
        """Drop everything not yet heard; the frame in flight is cut where it is."""
        call = self.call
        if self._playing:
            elapsed = asyncio.get_running_loop().time() - self._playing_since
            heard = self._playing[: max(0, min(len(self._playing), int(elapsed * 8000)))]
            call.played_audio += heard
            self.queued_bytes -= len(heard)
            if heard:
                self.last_audio_tick = self.tick
                self._hear(heard + _SILENCE_FRAME[len(heard) :])
        pending = self._playing_marks + [item for item in self._queue if isinstance(item, str)]
        call.clears.append(self.queued_bytes)
        self._playing = b""
        self._playing_marks = []
        self._queue.clear()
        self.queued_bytes = 0
        await self._echo_marks(pending, cleared=True)

    def _hear(self, frame: bytes) -> None:
        if self._detector is None:
            return
        digits = self._detector.feed(frame)
        if digits:
            self.call.heard_digits += "".join(digits)

    # -- reading what our server sends --------------------------------------------------------

    async def _read(self) -> None:
        ws = self.ws
        assert ws is not None
        call = self.call
        try:
            async for message in ws:
                if message.type is aiohttp.WSMsgType.TEXT:
                    await self._on_text(message.data)
                elif message.type is aiohttp.WSMsgType.BINARY:
                    call.protocol_errors.append("binary frame (Twilio expects JSON text)")
                elif message.type is aiohttp.WSMsgType.ERROR:
                    call.errors.append(f"stream error: {ws.exception()!r}")
                    break
        except (ConnectionError, aiohttp.ClientError) as exc:
            call.errors.append(f"stream read failed: {exc!r}")
        if self._closing:
            return  # shutdown() is closing it and finishes the stream
        # Our server closed the socket (or it broke): the stream is over.
        self._closing = True
        await self._cancel(self._ticker, self._script, self._late_sender)
        await ws.close()
        call.ws_close_code = ws.close_code
        call.ws_closed_by = "server"
        await self._finish("server")

    async def _on_text(self, text: str) -> None:
        call = self.call
        try:
            message = orjson.loads(text)
        except orjson.JSONDecodeError:
            message = None
        if isinstance(message, dict):
            call.received.append(message)
            await self._handle(message)
        else:
            call.protocol_errors.append(f"not a JSON object: {text[:80]!r}")
        await call._changed()

    async def _handle(self, message: dict[str, Any]) -> None:
        """Act on one message from our server (Twilio ignores what it cannot use)."""
        call = self.call
        event = message.get("event")
        if message.get("streamSid") != self.sid or not self.started:
            call.protocol_errors.append(f"{event}: wrong or missing streamSid")
            return
        if event == "media":
            media = message.get("media")
            payload = media.get("payload") if isinstance(media, dict) else None
            if not isinstance(payload, str):
                call.protocol_errors.append("media without a payload")
                return
            try:
                audio = base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError):
                call.protocol_errors.append("media payload is not base64")
                return
            if audio:
                self._queue.append((asyncio.get_running_loop().time(), audio))
                self.queued_bytes += len(audio)
        elif event == "mark":
            mark = message.get("mark")
            name = mark.get("name") if isinstance(mark, dict) else None
            if not isinstance(name, str):
                call.protocol_errors.append("mark without a name")
                return
            if self._queue:
                self._queue.append(name)
            elif self._playing:
                self._playing_marks.append(name)
            else:
                await self._echo_marks([name], cleared=False)
        elif event == "clear":
            await self._clear()
        else:
            call.protocol_errors.append(f"unknown event {event!r}")

    # -- the far party's script ---------------------------------------------------------------

    async def _run_script(self) -> None:
        call = self.call
        digits_used = 0
        for step in call.plan.callee:
            if isinstance(step, Speak):
                await self._speak(step)
            elif isinstance(step, Pause):
                await self._pause(step)
            elif isinstance(step, WaitForModel):
                # Only audio that plays from now on counts: what played before (say, a reply
                # the far party just talked over) must not satisfy this wait.
                await self._wait_model(step, call.played_bytes)
            elif isinstance(step, WaitForDigits):
                digits_used = await self._wait_digits(step, digits_used)
            elif isinstance(step, PressKeys):
                await self._press(step)
            elif isinstance(step, HangUp):
                self.fake._begin_end(call, "completed")
                return
        call.script_done = True
        await call._changed()

    async def _speak(self, step: Speak) -> None:
        self.call.spoken.append(step.text)
        self.voice_frames_left = max(1, math.ceil(step.ms / FRAME_MS))
        await self.call.wait_for(lambda: self.voice_frames_left == 0, None)

    async def _press(self, step: PressKeys) -> None:
        self._key_events = step.send_event
        self._key_frames.extend(key_frames(step.keys, tone_ms=step.tone_ms, gap_ms=step.gap_ms))
        await self.call.wait_for(lambda: not self._key_frames, None)

    async def _pause(self, step: Pause) -> None:
        target = self.tick + math.ceil(step.ms / FRAME_MS)
        await self.call.wait_for(lambda: self.tick >= target, None)

    async def _wait_model(self, step: WaitForModel, baseline: int) -> int:
        call = self.call
        quiet_ticks = math.ceil(step.quiet_ms / FRAME_MS)

        def done() -> bool:
            return (
                call.played_bytes > baseline
                and self.queued_bytes == 0
                and self.tick - self.last_audio_tick >= quiet_ticks
            )

        try:
            await call.wait_for(done, step.timeout_s)
        except TimeoutError:
            call.script_timeouts.append(f"WaitForModel after {step.timeout_s}s")
            logger.info("fake carrier: %s: model stayed silent (WaitForModel timed out)", call.sid)
        return call.played_bytes

    async def _wait_digits(self, step: WaitForDigits, used: int) -> int:
        call = self.call
        want = used + step.count
        try:
            await call.wait_for(lambda: len(call.heard_digits) >= want, step.timeout_s)
        except TimeoutError:
            call.script_timeouts.append(f"WaitForDigits({step.count}) after {step.timeout_s}s")
            logger.info("fake carrier: %s: WaitForDigits timed out", call.sid)
            return len(call.heard_digits)
        return want


# ---- the carrier --------------------------------------------------------------------------


class FakeTwilio:
    """Twilio's REST API, webhooks and Media Streams on loopback (see the module docstring).

    Signing: with the Auth Token (HMAC-SHA1) unless `shared_key` is set, then with that
    SharedKey and its algorithm (HMAC-SHA256 by default), announced by
    `X-Twilio-Webhooks-Signature-Settings`, for every webhook and the stream's upgrade.

    Strictness (plain attributes, read when used; defaults behave like Twilio, see the module
    docstring): `allow_ws_stream`, `keep_stream_query`, `stay_up_after_stream` relax it;
    `max_time_limit_s` is the account's call limit.

    Failure injection (plain attributes, read when used): `bad_signature` signs everything
    with a wrong secret (under whichever scheme); `start_token_override` replaces
    `call_token` in `start`'s customParameters; `delay_start_ms` waits that long between
    `connected` and `start`.
    """

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        tunnel: dict[str, str],
        plans: Callable[[str], CallPlan] | CallPlan,
        owned_numbers: tuple[str, ...] = (),
        voice_url: str | None = None,
        status_callback: str | None = None,
        friendly_name: str = "voicecall_rt simulator",
        host: str = "127.0.0.1",
        port: int = 0,
        ring_delay_ms: int = 20,
        webhook_timeout_s: float = 15.0,
        detect_dtmf: bool = True,
        bad_signature: bool = False,
        start_token_override: str | None = None,
        delay_start_ms: int = 0,
        shared_key: SharedKey | None = None,
        allow_ws_stream: bool = False,
        keep_stream_query: bool = False,
        stay_up_after_stream: bool = False,
        max_time_limit_s: int = DEFAULT_MAX_TIME_LIMIT_S,
    ) -> None:
        self.account_sid = account_sid
        self._auth_token = auth_token
        self._tunnel = {_norm_origin(k): v.rstrip("/") for k, v in tunnel.items()}
        self._plans = plans
        self.owned_numbers = owned_numbers
        self.voice_url = voice_url
        self.status_callback = status_callback
        self.friendly_name = friendly_name
        self._host = host
        self._port = port
        self.ring_delay_ms = ring_delay_ms
        self.webhook_timeout_s = webhook_timeout_s
        self.detect_dtmf = detect_dtmf
        self.bad_signature = bad_signature
        self.start_token_override = start_token_override
        self.delay_start_ms = delay_start_ms
        self.shared_key = shared_key
        self.allow_ws_stream = allow_ws_stream
        self.keep_stream_query = keep_stream_query
        self.stay_up_after_stream = stay_up_after_stream
        self.max_time_limit_s = max_time_limit_s
        # what happened
        self.calls: dict[str, SimCall] = {}
        self.created: list[dict[str, list[str]]] = []
        self.updates: list[CallUpdate] = []
        self.requests: list[RestRequest] = []
        self.webhooks: list[SentWebhook] = []
        # machinery
        self._new_calls: asyncio.Queue[SimCall] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self._closing = False
        self._closed = asyncio.Event()

    # -- start / close --------------------------------------------------------------------

    @property
    def api_base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("FakeTwilio is not started")
        return self._base_url

    @property
    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("FakeTwilio is not started")
        return self._session

    async def start(self) -> None:
        if self._closing:
            raise RuntimeError("FakeTwilio is closed; make a new one")
        if self._runner is not None:
            return
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=5.0),
        )
        app = web.Application(middlewares=[self._middleware()])
        prefix = f"/{API_VERSION}/Accounts/{{account}}"
        app.router.add_post(prefix + "/Calls.json", self._create_call)
        app.router.add_post(prefix + "/Calls/{call}.json", self._update_call)
        app.router.add_get(prefix + "/Calls/{call}.json", self._fetch_call)
        app.router.add_get(prefix + ".json", self._fetch_account)
        app.router.add_get(prefix + "/IncomingPhoneNumbers.json", self._list_numbers)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        await site.start()
        self._runner = runner
        address = runner.addresses[0]
        self._base_url = f"http://{self._host}:{address[1]}"
        logger.info("fake Twilio REST at %s", self._base_url)

    async def close(self) -> None:
        """Hang up every call (stop + close + callbacks), then stop the servers. Idempotent."""
        if self._closing:
            await self._closed.wait()
            return
        self._closing = True
        try:
            endings = [
                self._begin_end(call, "completed" if call.answered else "canceled")
                for call in self.calls.values()
                if not call.ended.is_set()
            ]
            if endings:
                await asyncio.wait(endings, timeout=5.0)
            while leftovers := [t for t in self._tasks if not t.done()]:
                for task in leftovers:
                    task.cancel()
                await asyncio.wait(leftovers)
            for call in self.calls.values():
                if not call.ended.is_set():
                    logger.warning("fake carrier: %s did not finish hanging up in time", call.sid)
                    call.ended.set()
            if self._session is not None:
                await self._session.close()
            if self._runner is not None:
                await self._runner.cleanup()
        finally:
            self._closed.set()

    async def __aenter__(self) -> FakeTwilio:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def wait_call(self, timeout: float = 10.0) -> SimCall:  # noqa: ASYNC109 - test API
        """The next call created (outbound via REST or inbound), in creation order."""
        async with asyncio.timeout(timeout):
            return await self._new_calls.get()

    # -- tasks ------------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("fake carrier task %s failed", task.get_name(), exc_info=task.exception())

    async def _guard(self, call: SimCall, work: Coroutine[Any, Any, None], what: str) -> None:
        """Task boundary for a call's TwiML/lifecycle work: a crash ends the call."""
        try:
            await work
        except Exception:
            logger.exception("fake carrier: %s crashed for %s", what, call.sid)
            call.errors.append(f"{what} crashed")
            self._begin_end(call, "completed" if call.answered else "failed")

    # -- signing and the tunnel ---------------------------------------------------------------

    def _signature_headers(self, url: str, params: dict[str, str]) -> dict[str, str]:
        return signature_headers(
            url,
            params,
            auth_token=self._auth_token,
            shared_key=self.shared_key,
            forge=self.bad_signature,
        )

    def route(self, public_origin: str, local_base: str) -> None:
        """Add or replace a tunnel mapping (e.g. once our server knows its port)."""
        self._tunnel[_norm_origin(public_origin)] = local_base.rstrip("/")

    def _local_url(self, public_url: str) -> str:
        """Where a tunnel would deliver `public_url` (unmapped URLs are used as they are)."""
        parts = urlsplit(public_url)
        local = self._tunnel.get(_norm_origin(public_url))
        if local is None:
            return public_url
        target = urlsplit(local)
        scheme = target.scheme
        if parts.scheme in ("ws", "wss"):
            scheme = "wss" if scheme == "https" else "ws"
        path = target.path.rstrip("/") + (parts.path or "/")
        return urlunsplit((scheme, target.netloc, path, parts.query, ""))

    def _tunnel_headers(self, public_url: str) -> dict[str, str]:
        if _norm_origin(public_url) not in self._tunnel:
            return {}
        parts = urlsplit(public_url)
        scheme = {"wss": "https", "ws": "http"}.get(parts.scheme, parts.scheme)
        return {"Host": parts.netloc, "X-Forwarded-Proto": scheme, "X-Forwarded-Host": parts.netloc}

    # -- webhooks -----------------------------------------------------------------------------

    def _call_params(self, call: SimCall, status: str | None = None) -> dict[str, str]:
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": call.sid,
            "CallStatus": status or call.status,
            "Called": call.to,
            "Caller": call.from_,
            "Direction": call.direction,
            "From": call.from_,
            "To": call.to,
        }
        if call.answered_by is not None:
            params["AnsweredBy"] = call.answered_by
        return params

    async def _webhook(
        self, call: SimCall, kind: WebhookKind, url: str, method: str, params: dict[str, str]
    ) -> tuple[SentWebhook, str | None]:
        """Send one signed request; returns the record and the response body."""
        method = method.upper()
        if method == "GET":
            query = urlencode(params)
            signed_url = url + ("&" if urlsplit(url).query else "?") + query if query else url
            signed = self._signature_headers(signed_url, {})
            data: dict[str, str] | None = None
        else:
            signed_url, signed, data = url, self._signature_headers(url, params), params
        headers = {
            **signed,
            "User-Agent": "TwilioProxy/1.1",
            "I-Twilio-Idempotency-Token": secrets.token_hex(16),
        }
        headers.update(self._tunnel_headers(signed_url))
        status: int | None = None
        body: str | None = None
        error: str | None = None
        try:
            async with self._http.request(
                method,
                URL(self._local_url(signed_url), encoded=True),
                data=data,
                headers=headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=self.webhook_timeout_s),
            ) as response:
                status = response.status
                body = await response.text(errors="replace")
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = repr(exc)
            logger.info("fake carrier: %s webhook to %s failed: %r", kind, url, exc)
        record = SentWebhook(
            kind,
            call.sid,
            url,
            method,
            dict(params),
            signed[SIGNATURE_HEADER],
            status,
            error,
            signed.get(SIGNATURE_SETTINGS_HEADER),
        )
        self.webhooks.append(record)
        call.webhooks.append(record)
        await call._changed()
        return record, body

    def _enqueue(self, call: SimCall, item: _Outgoing) -> None:
        """Queue a fire-and-forget webhook; the call's sender delivers them in order."""
        if call._outbox_closed:
            logger.warning("fake carrier: %s webhook after %s ended, dropped", item.kind, call.sid)
            return
        call._outbox.put_nowait(item)

    async def _deliver_outbox(self, call: SimCall) -> None:
        while True:
            item = await call._outbox.get()
            if item is None:
                return
            await self._webhook(call, item.kind, item.url, item.method, item.params)

    def _status_event(self, call: SimCall, event: str, status: str) -> None:
        """A status callback for `event`, if our server asked for it (docs/protocols.md §4.2)."""
        config = call._config
        if config.status_callback is None or event not in config.events:
            return
        params = self._call_params(call, status)
        params.update(
            {
                "Timestamp": _rfc2822(_now()),
                "CallbackSource": "call-progress-events",
                "SequenceNumber": str(call._callback_seq),
            }
        )
        call._callback_seq += 1
        if event == "completed":
            params["CallDuration"] = str(call.duration_s)
        self._enqueue(
            call,
            _Outgoing("status", config.status_callback, config.status_callback_method, params),
        )

    async def _fetch_twiml(
        self, call: SimCall, kind: WebhookKind, url: str, method: str
    ) -> str | None:
        record, body = await self._webhook(call, kind, url, method, self._call_params(call))
        if record.status is None or not 200 <= record.status < 300 or body is None:
            call.errors.append(f"{kind} URL {url} answered {record.status or record.error}")
            return None
        call.twiml.append(body)
        return body

    # -- call state ---------------------------------------------------------------------------

    def _register(self, call: SimCall) -> None:
        self.calls[call.sid] = call
        call._sender = self._spawn(self._deliver_outbox(call), f"fake-twilio-webhooks-{call.sid}")
        self._new_calls.put_nowait(call)

    async def _set_status(self, call: SimCall, status: str) -> None:
        if call.is_final:
            return
        call.status = status
        call.statuses.append(status)
        await call._changed()

    async def _answer(self, call: SimCall) -> None:
        if call.answered or call.is_final:
            return
        call._answered_at = asyncio.get_running_loop().time()
        call.start_time = _now()
        await self._set_status(call, "in-progress")
        self._status_event(call, "answered", "in-progress")
        self._arm_time_limit(call)

    def _arm_time_limit(self, call: SimCall) -> None:
        if call._time_limit is not None:
            call._time_limit.cancel()
            call._time_limit = None
        limit = call._config.time_limit_s
        if limit is None or call._answered_at is None or call.is_final:
            return
        deadline = call._answered_at + limit
        call._time_limit = self._spawn(
            self._time_limit_at(call, deadline), f"fake-twilio-timelimit-{call.sid}"
        )

    async def _time_limit_at(self, call: SimCall, deadline: float) -> None:
        await asyncio.sleep(max(0.0, deadline - asyncio.get_running_loop().time()))
        logger.info("fake carrier: %s reached its TimeLimit", call.sid)
        self._begin_end(call, "completed")

    def _begin_end(self, call: SimCall, final: str) -> asyncio.Task[None]:
        """End the call with `final` (first caller wins); the teardown runs in its own task."""
        if call._teardown is None:
            call.status = final
            call.statuses.append(final)
            call.end_time = _now()
            call._ended_at = asyncio.get_running_loop().time()
            call._teardown = self._spawn(self._teardown(call, final), f"fake-twilio-end-{call.sid}")
        return call._teardown

    async def _end(self, call: SimCall, final: str) -> None:
        await asyncio.shield(self._begin_end(call, final))

    async def _teardown(self, call: SimCall, final: str) -> None:
        await call._changed()
        current = asyncio.current_task()
        busy = [
            t
            for t in (call._runner, call._time_limit, call._amd)
            if t is not None and t is not current and not t.done()
        ]
        for task in busy:
            task.cancel()
        if busy:
            await asyncio.wait(busy)
        if call._stream is not None:
            await call._stream.shutdown()
        self._status_event(call, "completed", final)
        call._outbox_closed = True
        call._outbox.put_nowait(None)
        if call._sender is not None:
            await asyncio.wait([call._sender])
        call.ended.set()
        await call._changed()
        logger.info("fake carrier: %s ended %s", call.sid, final)

    # -- outbound lifecycle --------------------------------------------------------------------

    async def _run_outbound(self, call: SimCall) -> None:
        config, plan = call._config, call.plan
        await self._set_status(call, "initiated")
        self._status_event(call, "initiated", "initiated")
        await asyncio.sleep(self.ring_delay_ms / 1000)
        await self._set_status(call, "ringing")
        self._status_event(call, "ringing", "ringing")
        ring_s = plan.ring_ms / 1000
        if plan.answer != "answer" or ring_s >= config.timeout_s:
            await asyncio.sleep(min(ring_s, config.timeout_s))
            self._begin_end(call, plan.answer if plan.answer != "answer" else "no-answer")
            return
        await asyncio.sleep(ring_s)
        await self._answer(call)
        if config.machine_detection is not None:
            verdict = plan.answered_by
            if not config.async_amd:
                # Synchronous AMD: the answer URL waits for the verdict and carries it.
                await asyncio.sleep(plan.amd_delay_ms / 1000)
                call.answered_by = verdict or "unknown"
            elif verdict is not None and config.amd_callback is not None:
                call._amd = self._spawn(
                    self._amd_later(call, verdict), f"fake-twilio-amd-{call.sid}"
                )
        if config.url is not None:
            twiml = await self._fetch_twiml(call, "voice", config.url, config.method)
            doc_url = config.url
        else:
            twiml, doc_url = config.twiml, ""
        if twiml is None:
            self._begin_end(call, "completed")  # "an application error has occurred"
            return
        await self._run_document(call, twiml, doc_url)

    async def _amd_later(self, call: SimCall, verdict: str) -> None:
        config = call._config
        await asyncio.sleep(call.plan.amd_delay_ms / 1000)
        assert config.amd_callback is not None
        call.answered_by = verdict
        params = {
            "AccountSid": self.account_sid,
            "AnsweredBy": verdict,
            "CallSid": call.sid,
            "MachineDetectionDuration": str(call.plan.amd_delay_ms),
        }
        self._enqueue(call, _Outgoing("amd", config.amd_callback, config.amd_method, params))
        await call._changed()

    async def _run_inbound(self, call: SimCall) -> None:
        assert call._config.url is not None
        twiml = await self._fetch_twiml(call, "voice", call._config.url, call._config.method)
        if twiml is None:
            self._begin_end(call, "completed")
            return
        await self._run_document(call, twiml, call._config.url)

    async def _redirect(
        self, call: SimCall, previous: asyncio.Task[None] | None, url: str | None, twiml: str | None
    ) -> None:
        """REST update with Url/Twiml: the running TwiML (and any stream) stops, new TwiML runs."""
        if previous is not None and not previous.done():
            previous.cancel()
            await asyncio.wait([previous])
        if call._stream is not None:
            await call._stream.shutdown()
        call._stay_up = False
        if url is not None:
            document = await self._fetch_twiml(call, "voice", url, call._config.method)
            doc_url = url
        else:
            document, doc_url = twiml, ""
        if document is None:
            self._begin_end(call, "completed")
            return
        await self._run_document(call, document, doc_url)

    # -- TwiML -------------------------------------------------------------------------------

    async def _run_document(self, call: SimCall, document: str, doc_url: str) -> None:
        """Run TwiML verbs in order; `<Connect action>` swaps in the action's TwiML."""
        current: str | None = document
        while current is not None:
            try:
                # TwiML comes from our own server; expat does not resolve external entities.
                root = ET.fromstring(current)  # noqa: S314
            except ET.ParseError as exc:
                call.errors.append(f"TwiML is not XML: {exc}")
                self._begin_end(call, "completed")
                return
            if root.tag != "Response":
                call.errors.append(f"TwiML root is <{root.tag}>, not <Response>")
                self._begin_end(call, "completed")
                return
            following: tuple[str, str] | None = None
            for verb in root:
                outcome = await self._run_verb(call, verb, doc_url)
                if outcome == "ended":
                    return
                if isinstance(outcome, tuple):
                    following = outcome
                    break
            current, doc_url = following if following is not None else (None, doc_url)
        if call._stay_up and self.stay_up_after_stream:
            return  # lenient: the call waits for our server's REST hang-up
        self._begin_end(call, "completed")

    async def _run_verb(
        self, call: SimCall, verb: ET.Element, doc_url: str
    ) -> Literal["next", "ended"] | tuple[str, str]:
        tag = verb.tag
        if tag == "Say":
            await self._answer(call)
            call.said.append((verb.text or "").strip())
            await call._changed()
            return "next"
        if tag == "Pause":
            await self._answer(call)
            try:
                length = int(verb.get("length", "1"))
            except ValueError:
                length = 1
            await asyncio.sleep(max(0, length))
            return "next"
        if tag == "Hangup":
            self._begin_end(call, "completed")
            return "ended"
        if tag == "Reject":
            self._begin_end(call, "busy")
            return "ended"
        if tag == "Connect":
            return await self._connect(call, verb, doc_url)
        return self._unsupported(call, tag)

    def _notify(self, call: SimCall, code: int, message: str) -> None:
        call.notifications.append(Notification(code, message))
        call.errors.append(f"{code}: {message}")
        logger.info("fake carrier: %s: error %d: %s", call.sid, code, message)

    def _unsupported(self, call: SimCall, what: str) -> Literal["ended"]:
        call.unsupported.append(what)
        logger.warning("fake carrier: unsupported TwiML %s on %s, hanging up", what, call.sid)
        self._begin_end(call, "completed")
        return "ended"

    async def _connect(
        self, call: SimCall, verb: ET.Element, doc_url: str
    ) -> Literal["next", "ended"] | tuple[str, str]:
        children = list(verb)
        if len(children) != 1 or children[0].tag != "Stream":
            inner = ",".join(child.tag for child in children) or "nothing"
            return self._unsupported(call, f"Connect/{inner}")
        element = children[0]
        raw_url = element.get("url")
        if not raw_url:
            call.errors.append("<Stream> without url")
            self._begin_end(call, "completed")
            return "ended"
        url = urljoin(doc_url, raw_url) if doc_url else raw_url
        parts = urlsplit(url)
        scheme = {"https": "wss", "http": "ws"}.get(parts.scheme, parts.scheme)
        if scheme not in ("wss", "ws") or not parts.netloc:
            call.errors.append(f"<Stream url> is not a WebSocket URL: {raw_url}")
            self._begin_end(call, "completed")
            return "ended"
        # Twilio's `<Stream url>` takes no query string: what our server put there is lost.
        query = parts.query if self.keep_stream_query else ""
        url = urlunsplit((scheme, parts.netloc, parts.path, query, ""))
        refused = scheme == "ws" and not self.allow_ws_stream
        if query != parts.query or refused:
            call.stream_url_requested = raw_url
        if refused:
            # Twilio opens no stream; the call goes on with the rest of its TwiML.
            self._notify(call, ERR_STREAM_SCHEME, f"URL schema not supported: {raw_url}")
            await self._answer(call)
            return await self._after_stream(call, verb, doc_url, "failed")
        parameters = {
            p.get("name", ""): p.get("value", "") for p in element if p.tag == "Parameter"
        }
        stream_callback = element.get("statusCallback")
        if stream_callback and doc_url:
            stream_callback = urljoin(doc_url, stream_callback)
        await self._answer(call)
        stream = _MediaStream(
            self,
            call,
            url=url,
            parameters=parameters,
            name=element.get("name"),
            status_callback=stream_callback or None,
            status_callback_method=element.get("statusCallbackMethod", "POST"),
        )
        call._stream = stream
        return await self._after_stream(call, verb, doc_url, await stream.run())

    async def _after_stream(
        self,
        call: SimCall,
        verb: ET.Element,
        doc_url: str,
        ended_by: Literal["server", "carrier", "failed"],
    ) -> Literal["next", "ended"] | tuple[str, str]:
        """Where the TwiML goes once the stream is over: `<Connect action>`, else on."""
        if ended_by == "carrier":
            return "ended"
        call._stay_up = ended_by == "server"
        action = verb.get("action")
        if action:
            action_url = urljoin(doc_url, action) if doc_url else action
            document = await self._fetch_twiml(
                call, "action", action_url, verb.get("method", "POST")
            )
            if document is None:
                self._begin_end(call, "completed")
                return "ended"
            return document, action_url
        return "next"

    # -- inbound -----------------------------------------------------------------------------

    async def place_inbound_call(
        self, *, from_number: str, to_number: str, plan: CallPlan
    ) -> SimCall:
        """Someone dials one of our numbers: the voice URL is requested (signed) and its TwiML
        followed. Returns at once; follow the call through the SimCall."""
        if self.voice_url is None:
            raise RuntimeError("FakeTwilio needs voice_url= for inbound calls")
        if self._session is None:
            raise RuntimeError("FakeTwilio is not started")
        if self._closing:
            raise RuntimeError("FakeTwilio is closed")
        if self.owned_numbers and to_number not in self.owned_numbers:
            raise ValueError(f"{to_number} is not one of this account's numbers")
        config = _CallConfig(url=self.voice_url, status_callback=self.status_callback)
        call = SimCall(
            self,
            sid=_new_sid("CA"),
            to=to_number,
            from_=from_number,
            direction="inbound",
            plan=plan,
            config=config,
            create_params={},
        )
        call.status = "ringing"
        call.statuses.append("ringing")
        self._register(call)
        call._runner = self._spawn(
            self._guard(call, self._run_inbound(call), "inbound call"),
            f"fake-twilio-call-{call.sid}",
        )
        return call

    # -- REST ------------------------------------------------------------------------------

    def _middleware(self) -> Middleware:
        @web.middleware
        async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            params: dict[str, list[str]] = {}
            if request.method == "POST":
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, str):
                        params.setdefault(key, []).append(value)
            else:
                for key, value in request.query.items():
                    params.setdefault(key, []).append(value)
            try:
                if not self._authorized(request):
                    raise _RestError(401, ERR_AUTHENTICATE, "Authenticate")
                if request.match_info.get("account", self.account_sid) != self.account_sid:
                    raise _RestError(404, ERR_NOT_FOUND, self._not_found(request.path))
                response = await handler(request)
            except _RestError as exc:
                response = self._error(exc)
            except web.HTTPNotFound:
                response = self._error(
                    _RestError(404, ERR_NOT_FOUND, self._not_found(request.path))
                )
            except web.HTTPMethodNotAllowed:
                response = self._error(_RestError(405, ERR_INVALID_PARAMETER, "Method not allowed"))
            self.requests.append(RestRequest(request.method, request.path, params, response.status))
            return response

        return middleware

    def _authorized(self, request: web.Request) -> bool:
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        login, colon, password = decoded.partition(":")
        expected = f"{self.account_sid}:{self._auth_token}"
        return bool(colon) and hmac.compare_digest(
            f"{login}:{password}".encode(), expected.encode()
        )

    @staticmethod
    def _not_found(path: str) -> str:
        return f"The requested resource {path} was not found"

    @staticmethod
    def _json(body: Any, status: int = 200) -> web.Response:
        return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")

    def _error(self, error: _RestError) -> web.Response:
        response = self._json(
            {
                "code": error.code,
                "message": error.message,
                "more_info": f"https://www.twilio.com/docs/errors/{error.code}",
                "status": error.status,
            },
            error.status,
        )
        if error.status == 401:
            response.headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
        return response

    @staticmethod
    async def _form(request: web.Request) -> dict[str, list[str]]:
        params: dict[str, list[str]] = {}
        for key, value in (await request.post()).items():
            if isinstance(value, str):
                params.setdefault(key, []).append(value)
        return params

    def _plan_for(self, to: str) -> CallPlan:
        return self._plans if isinstance(self._plans, CallPlan) else self._plans(to)

    def _validate_create(self, params: dict[str, list[str]]) -> tuple[str, str, _CallConfig]:
        to = _first(params, "To")
        if to is None:
            raise _RestError(400, ERR_NO_TO, "No 'To' number is specified")
        if not _E164.match(to):
            raise _RestError(400, ERR_TO, f"Invalid 'To' Phone Number: {to}")
        from_ = _first(params, "From")
        if from_ is None:
            raise _RestError(400, ERR_NO_FROM, "No 'From' number is specified")
        if not _E164.match(from_) or (self.owned_numbers and from_ not in self.owned_numbers):
            raise _RestError(400, ERR_FROM, f"Invalid From Number (caller ID): {from_}")
        url = _first(params, "Url")
        twiml = _first(params, "Twiml")
        if url is None and twiml is None:
            raise _RestError(400, ERR_URL, "Url parameter is required.")
        for name in ("Url", "StatusCallback", "AsyncAmdStatusCallback", "FallbackUrl"):
            value = _first(params, name)
            if value is not None and not _http_url(value):
                raise _RestError(400, ERR_URL, f"{name} is not a valid URL: {value}")
        methods = {}
        for name in ("Method", "StatusCallbackMethod", "AsyncAmdStatusCallbackMethod"):
            value = (_first(params, name) or "POST").upper()
            if value not in ("GET", "POST"):
                raise _RestError(400, ERR_INVALID_PARAMETER, f"{name} must be GET or POST")
            methods[name] = value
        events = {"completed"}
        for value in params.get("StatusCallbackEvent", []):
            for event in value.split():
                if event not in STATUS_EVENTS:
                    raise _RestError(
                        400, ERR_INVALID_PARAMETER, f"Invalid StatusCallbackEvent: {event}"
                    )
                events.add(event)
        timeout = self._int_param(params, "Timeout", 60, 1, None)
        timeout = min(timeout, 600) if timeout is not None else 60
        time_limit = self._time_limit(params)
        detection = _first(params, "MachineDetection")
        if detection is not None:
            canonical = MACHINE_DETECTION.get(detection.lower())
            if canonical is None:
                raise _RestError(
                    400, ERR_INVALID_PARAMETER, f"Invalid MachineDetection: {detection}"
                )
            detection = canonical
        async_amd = (_first(params, "AsyncAmd") or "false").lower()
        if async_amd not in ("true", "false"):
            raise _RestError(400, ERR_INVALID_PARAMETER, f"Invalid AsyncAmd: {async_amd}")
        config = _CallConfig(
            url=url,
            method=methods["Method"],
            twiml=twiml if url is None else None,
            status_callback=_first(params, "StatusCallback"),
            status_callback_method=methods["StatusCallbackMethod"],
            events=frozenset(events),
            timeout_s=timeout,
            time_limit_s=time_limit,
            machine_detection=detection,
            async_amd=async_amd == "true",
            amd_callback=_first(params, "AsyncAmdStatusCallback"),
            amd_method=methods["AsyncAmdStatusCallbackMethod"],
        )
        return to, from_, config

    def _time_limit(self, params: dict[str, list[str]]) -> int | None:
        value = _first(params, "TimeLimit")
        limit = self._int_param(params, "TimeLimit", None, 1, None)
        if limit is not None and limit > self.max_time_limit_s:
            raise _RestError(
                400,
                ERR_INVALID_PARAMETER,
                f"TimeLimit must be between 1 and {self.max_time_limit_s} seconds: {value}",
            )
        return limit

    @staticmethod
    def _int_param(
        params: dict[str, list[str]], name: str, default: int | None, low: int, high: int | None
    ) -> int | None:
        value = _first(params, name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise _RestError(400, ERR_INVALID_PARAMETER, f"{name} must be an integer") from None
        if number < low or (high is not None and number > high):
            raise _RestError(400, ERR_INVALID_PARAMETER, f"{name} is out of range: {number}")
        return number

    async def _create_call(self, request: web.Request) -> web.Response:
        if self._closing:
            raise _RestError(503, ERR_UNAVAILABLE, "Service unavailable")
        params = await self._form(request)
        to, from_, config = self._validate_create(params)
        self.created.append(params)
        call = SimCall(
            self,
            sid=_new_sid("CA"),
            to=to,
            from_=from_,
            direction="outbound-api",
            plan=self._plan_for(to),
            config=config,
            create_params=params,
        )
        self._register(call)
        resource = call.resource()
        call._runner = self._spawn(
            self._guard(call, self._run_outbound(call), "outbound call"),
            f"fake-twilio-call-{call.sid}",
        )
        return self._json(resource, 201)

    async def _update_call(self, request: web.Request) -> web.Response:
        params = await self._form(request)
        sid = request.match_info["call"]
        try:
            response = await self._apply_update(sid, params, request.path)
        except _RestError as exc:
            self.updates.append(CallUpdate(sid, params, exc.status))
            raise
        self.updates.append(CallUpdate(sid, params, response.status))
        return response

    async def _apply_update(
        self, sid: str, params: dict[str, list[str]], path: str
    ) -> web.Response:
        call = self.calls.get(sid)
        if call is None:
            raise _RestError(404, ERR_NOT_FOUND, self._not_found(path))
        status = _first(params, "Status")
        url = _first(params, "Url")
        twiml = _first(params, "Twiml")
        if status is not None and status not in ("completed", "canceled"):
            raise _RestError(400, ERR_INVALID_PARAMETER, f"Invalid Status: {status}")
        if url is not None and not _http_url(url):
            raise _RestError(400, ERR_URL, f"Url is not a valid URL: {url}")
        callback = _first(params, "StatusCallback")
        if callback is not None:
            if not _http_url(callback):
                raise _RestError(400, ERR_URL, f"StatusCallback is not a valid URL: {callback}")
            call._config.status_callback = callback
        callback_method = _first(params, "StatusCallbackMethod")
        if callback_method is not None:
            call._config.status_callback_method = callback_method.upper()
        method = _first(params, "Method")
        if method is not None:
            call._config.method = method.upper()
        time_limit = self._time_limit(params)
        if time_limit is not None:
            call._config.time_limit_s = time_limit
            self._arm_time_limit(call)
        if status is not None and not call.is_final:
            # Twilio's Call resource: `canceled` hangs up queued or ringing calls but "will
            # not affect calls already in progress"; `completed` hangs up "even if it's
            # already in progress". A call hung up before answer ends `canceled` either way
            # (the status table: "hung up while it was queued or ringing").
            if call.answered:
                if status == "completed":
                    self._begin_end(call, "completed")
            else:
                self._begin_end(call, "canceled")
        elif url is not None or twiml is not None:
            if call.is_final or not call.answered:
                raise _RestError(
                    400, ERR_NOT_IN_PROGRESS, "Call is not in-progress. Cannot redirect."
                )
            previous = call._runner
            call._runner = self._spawn(
                self._guard(call, self._redirect(call, previous, url, twiml), "redirect"),
                f"fake-twilio-redirect-{call.sid}",
            )
        return self._json(call.resource())

    async def _fetch_call(self, request: web.Request) -> web.Response:
        call = self.calls.get(request.match_info["call"])
        if call is None:
            raise _RestError(404, ERR_NOT_FOUND, self._not_found(request.path))
        return self._json(call.resource())

    async def _fetch_account(self, request: web.Request) -> web.Response:
        created = _rfc2822(datetime(2024, 1, 1, tzinfo=UTC))
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}.json"
        return self._json(
            {
                "sid": self.account_sid,
                "friendly_name": self.friendly_name,
                "status": "active",
                "type": "Full",
                "owner_account_sid": self.account_sid,
                "date_created": created,
                "date_updated": created,
                "uri": uri,
                "subresource_uris": {
                    "calls": uri.replace(".json", "/Calls.json"),
                    "incoming_phone_numbers": uri.replace(".json", "/IncomingPhoneNumbers.json"),
                },
            }
        )

    async def _list_numbers(self, request: web.Request) -> web.Response:
        wanted = request.query.get("PhoneNumber")
        numbers = [n for n in self.owned_numbers if wanted is None or n == wanted.strip()]
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/IncomingPhoneNumbers.json"
        page_size = 50
        with contextlib.suppress(ValueError):
            page_size = max(1, int(request.query.get("PageSize", "50")))
        return self._json(
            {
                "incoming_phone_numbers": [self._number(n) for n in numbers[:page_size]],
                "end": max(0, min(len(numbers), page_size) - 1),
                "first_page_uri": f"{uri}?PageSize={page_size}&Page=0",
                "next_page_uri": None,
                "previous_page_uri": None,
                "page": 0,
                "page_size": page_size,
                "start": 0,
                "uri": f"{uri}?PageSize={page_size}&Page=0",
            }
        )

    def _number(self, number: str) -> dict[str, Any]:
        sid = "PN" + hashlib.sha256(number.encode()).hexdigest()[:32]
        created = _rfc2822(datetime(2024, 1, 1, tzinfo=UTC))
        return {
            "sid": sid,
            "account_sid": self.account_sid,
            "friendly_name": number,
            "phone_number": number,
            "voice_url": self.voice_url or "",
            "voice_method": "POST",
            "status_callback": self.status_callback or "",
            "status_callback_method": "POST",
            "capabilities": {"voice": True, "sms": True, "mms": True, "fax": False},
            "status": "in-use",
            "date_created": created,
            "date_updated": created,
            "api_version": API_VERSION,
            "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/IncomingPhoneNumbers/{sid}.json",
        }


__all__ = [
    "API_VERSION",
    "CallUpdate",
    "FakeTwilio",
    "MarkEcho",
    "RestRequest",
    "SentWebhook",
    "SimCall",
    "voice_audio",
]
