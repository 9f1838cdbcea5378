"""Load generator: both outside parties of N calls against one target server.

One asyncio loop plays
- the carrier: a signed `/voice/answer` webhook per inbound call (as Twilio delivers it
  through the tunnel), then a media-stream client that sends `connected`, `start` and a
  160-byte µ-law frame every 20 ms on an absolute schedule (frame k is due at
  t0 + k·20 ms, so a late tick never shifts the ones after it), plays what it receives at
  real pace and echoes each `mark` when the audio before it has "played", as Twilio does;
- the model: a minimal Realtime GA server (`session.created` with `expires_at`,
  `session.updated` echoing the effective session, as the real one does: our server only
  relays once it confirms µ-law both ways) that answers every
  `input_audio_buffer.append` with one `response.output_audio.delta`, so audio flows 50
  frames a second each way, and (optionally) every few seconds sends
  `input_audio_buffer.speech_started` while the caller still has audio queued, followed
  by transcripts, to exercise barge-in and the store. It can end a session under a live
  call as the real service does at its maximum duration (`session_expired`, close 1001):
  the session-renewal probe (`run_renewals`).

Every frame carries a marker in its first 12 bytes (magic, call index, frame index), in
both directions, so the far side can tell its send time (same process, same monotonic
clock), and whether frames were lost or reordered.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import contextlib
import json
import os
import random
import re
import secrets
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from benchmarks import wsraw
from benchmarks.procstat import ProcStat, self_cpu_seconds
from voicecall_rt.carrier.twilio import wire
from voicecall_rt.simulator.signing import signature_headers
from voicecall_rt.simulator.twilio.webhooks import call_params

REPO = Path(__file__).resolve().parent.parent
FRAME_S = 0.020
# Every timestamp comes from one clock of sub-µs resolution (uvloop's loop.time() has
# only milliseconds); the event loop's clock only schedules the 20 ms ticks.
clock = time.perf_counter
FRAME_BYTES = 160

# The simulated Twilio account and tunnel (the same values the simulator uses).
ACCOUNT_SID = "AC" + "5e" * 16
AUTH_TOKEN = "sim-auth-token-0123456789abcdef"
API_KEY = "sk-bench-offline"
FROM_NUMBER = "+14155550100"
PUBLIC_URL = "https://voice.voicecall-rt.test"

# ---- frame markers ----------------------------------------------------------------------

_MAGIC = b"VB"
_MARK = struct.Struct(">2sHI")  # magic, call index, frame index: 8 bytes
_MARK_B64 = 16  # 12 bytes (marker + 4 filler) encode to exactly 16 base64 characters
_FILL_B64 = base64.b64encode(b"\xff" * (FRAME_BYTES - 12))


def frame_payload(call: int, seq: int) -> bytes:
    """Base64 of a 160-byte µ-law frame whose first bytes say which call and frame it is."""
    return base64.b64encode(_MARK.pack(_MAGIC, call, seq) + b"\xff\xff\xff\xff") + _FILL_B64


def read_marker(b64: bytes) -> tuple[int, int] | None:
    try:
        raw = base64.b64decode(b64[:_MARK_B64])
    except ValueError:
        return None
    if len(raw) < 8 or raw[:2] != _MAGIC:
        return None
    _, call, seq = _MARK.unpack_from(raw)
    return call, seq


# ---- what is recorded -------------------------------------------------------------------


@dataclass
class Flow:
    """One direction of one call: when each frame was sent, what arrived, in what order."""

    sent: array[float] = field(default_factory=lambda: array("d"))
    next: int = 0
    received: int = 0
    reordered: int = 0
    duplicates: int = 0
    missing: set[int] = field(default_factory=set)

    def arrive(self, seq: int) -> None:
        self.received += 1
        if seq == self.next:
            self.next += 1
        elif seq > self.next:
            self.missing.update(range(self.next, seq))
            self.next = seq + 1
        elif seq in self.missing:
            self.missing.discard(seq)
            self.reordered += 1
        else:
            self.duplicates += 1

    @property
    def lost(self) -> int:
        return len(self.missing) + max(0, len(self.sent) - self.next)


@dataclass
class Call:
    index: int
    call_sid: str = field(default_factory=lambda: "CA" + secrets.token_hex(16))
    stream_sid: str = field(default_factory=lambda: "MZ" + secrets.token_hex(16))
    up: Flow = field(default_factory=Flow)  # caller → model
    down: Flow = field(default_factory=Flow)  # model → caller
    token: str = ""
    error: str | None = None
    start_sent_at: float | None = None
    first_up_at: float | None = None  # the first caller frame reached the model
    barge_sent_at: float | None = None
    barges_sent: int = 0
    clears: int = 0
    marks_received: int = 0
    close_code: int | None = None
    model: ModelSession | None = None
    caller: Caller | None = None
    # renewal probe only (FakeModel(track=True)): every model session that received this
    # call's audio, in order, and when each caller frame first reached a live session
    sessions: list[ModelSession] = field(default_factory=list)
    up_at: dict[int, float] = field(default_factory=dict)
    after_end: int = 0  # caller frames that reached a session the model had already ended
    # caller frames a renewed session got again: our server resends what the ended session
    # had not committed (it is lost with it); the first copy was counted when it arrived
    resent: int = 0


class Recorder:
    """Everything measured during one run; latencies only inside the steady window."""

    def __init__(self) -> None:
        self.calls: dict[int, Call] = {}
        self.window = False
        self.lat_up = array("d")
        self.lat_down = array("d")
        self.lat_barge = array("d")
        self.lag = array("d")  # load generator: how late each frame was sent
        self.frames_up_window = 0
        self.frames_down_window = 0
        self.unknown_markers = 0

    def up(self, call: Call, seq: int, now: float) -> None:
        call.up.arrive(seq)
        if self.window:
            self.frames_up_window += 1
            sent = call.up.sent
            if seq < len(sent):
                self.lat_up.append(now - sent[seq])

    def down(self, call: Call, seq: int, now: float) -> None:
        call.down.arrive(seq)
        if self.window:
            self.frames_down_window += 1
            sent = call.down.sent
            if seq < len(sent):
                self.lat_down.append(now - sent[seq])


# ---- the fake Realtime server -----------------------------------------------------------

# Our server puts an `event_id` between the type and the audio, the bare relays do not:
# the audio is looked for right after the type, a few dozen bytes in at most.
_APPEND = b'{"type":"input_audio_buffer.append",'
_APPEND_LEN = len(_APPEND)
_AUDIO = b'"audio":"'
_AUDIO_LEN = len(_AUDIO)
_AUDIO_WITHIN = _APPEND_LEN + 64
_MODEL_Q = re.compile(rb"[?&]model=([A-Za-z0-9._-]{1,64})")

# What the real service sends when a session reaches its maximum duration (then close 1001).
EXPIRED_MESSAGE = b"Your session hit the maximum duration of 60 minutes."
_EXPIRED = (
    b'{"type":"error","event_id":"ev_x","error":{"type":"invalid_request_error","code":'
    b'"session_expired","message":"' + EXPIRED_MESSAGE + b'","param":null,"event_id":null}}'
)
# An account error: no new session can help, so our server ends the call (a session that
# merely closes is renewed instead).
_QUOTA = (
    b'{"type":"error","event_id":"ev_q","error":{"type":"insufficient_quota","code":'
    b'"insufficient_quota","message":"You exceeded your current quota, please check your plan '
    b'and billing details.","param":null,"event_id":null}}'
)
# An ended session waits this long for the client's close frame, then drops the socket.
CLOSE_WAIT_S = 2.0
SESSION_LIFETIME_S = 3600.0  # the real service's 60 minutes


class FakeModel:
    """A Realtime GA endpoint just rich enough for the relay path (one per run)."""

    def __init__(
        self,
        rec: Recorder,
        *,
        barge_every_frames: int = 0,
        turn_every_frames: int = 0,
        session_lifetime_s: float = SESSION_LIFETIME_S,
        track: bool = False,
    ) -> None:
        self.rec = rec
        self.barge_every = barge_every_frames
        # a finished turn (both sides' transcripts, no barge-in): a conversation to replay
        self.turn_every = turn_every_frames
        self.lifetime_s = session_lifetime_s
        self.track = track
        self.port = 0
        self.open_sessions = 0
        self.sessions_total = 0
        self.rest_requests = 0
        self.client_events: Counter[str] = Counter()
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/realtime"

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: ModelSession(self), "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2):
                    await self._server.wait_closed()


class ModelSession(wsraw.WsConnection):
    is_client = False

    def __init__(self, fake: FakeModel) -> None:
        super().__init__()
        self.fake = fake
        self.rec = fake.rec
        self.loop = asyncio.get_running_loop()
        self.call: Call | None = None
        # ids are unique across sessions, as the real service's are (set at the handshake)
        self.ids = b"item_0_"
        self.item = b"item_0_a0"
        self.delta_head = b""
        self.response = b"resp_0"
        self.items = 0
        self.appends = 0
        self.counted = False
        self.model_name = "gpt-realtime"
        self.config: dict[str, Any] = {}
        self.ended = False  # the model ended the session; what arrives now is not heard
        self.ended_at: float | None = None
        self.after_end = 0
        # tracked sessions only: the first and last caller frame this session heard
        self.first_seq = self.last_seq = -1
        self.first_at = self.last_at = 0.0
        self.opened_at = self.updated_at = 0.0  # handshake done, session.updated sent
        self.expire_after_frame = False  # expire() as soon as the next caller frame is in

    def accept_request(self, head: bytes) -> bool:
        found = _MODEL_Q.search(head[: head.find(b"\r\n")])
        if found is not None:
            self.model_name = found.group(1).decode()
        return head.startswith(b"GET /v1/realtime") and (b"Bearer " + API_KEY.encode() in head)

    def on_http(self, head: bytes) -> bool:
        # The carrier REST API (hang-ups) lands here too: counted, answered, never expected.
        self.fake.rest_requests += 1
        assert self.transport is not None
        self.transport.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
            b"Connection: close\r\n\r\n{}"
        )
        self.transport.close()
        return True

    def on_open(self) -> None:
        self.opened_at = clock()
        self.counted = True
        self.fake.open_sessions += 1
        self.fake.sessions_total += 1
        number = self.fake.sessions_total
        self.ids = b"item_%d_" % number
        self.item = self.ids + b"a0"
        self.response = b"resp_%d" % number
        self.delta_head = (
            b'{"type":"response.output_audio.delta","event_id":"ev_d","response_id":"'
            + self.response
            + b'","item_id":"'
        )
        # The server's defaults, as the real one starts a session (24 kHz PCM both ways);
        # `expires_at` is whole unix seconds, as the real one sends it.
        self.config = {
            "type": "realtime",
            "object": "realtime.session",
            "id": f"sess_bench{number}",
            "model": self.model_name,
            "expires_at": int(time.time() + self.fake.lifetime_s),
            "output_modalities": ["audio"],
            "audio": {
                "input": {"format": {"type": "audio/pcm", "rate": 24000}},
                "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin"},
            },
        }
        self.send_text(
            b'{"type":"session.created","event_id":"ev_0","session":'
            + orjson.dumps(self.config)
            + b"}"
        )

    def on_closed(self) -> None:
        if self.counted:
            self.counted = False
            self.fake.open_sessions -= 1

    def on_text(self, data: bytes) -> None:
        if data.startswith(_APPEND):
            now = clock()
            at = data.find(_AUDIO, _APPEND_LEN, _AUDIO_WITHIN) + _AUDIO_LEN
            marker = read_marker(data[at : at + _MARK_B64]) if at >= _AUDIO_LEN else None
            if marker is None:
                self.rec.unknown_markers += 1
                return
            call = self.call
            if call is None:
                call = self.rec.calls.get(marker[0])
                if call is None:
                    self.rec.unknown_markers += 1
                    return
                self.call, call.model = call, self
                if call.first_up_at is None:
                    call.first_up_at = now
                if self.fake.track:
                    call.sessions.append(self)
                    self.first_seq, self.first_at = marker[1], now
            if self.ended:
                # Sent before our server saw the end: the real service does not hear it.
                self.after_end += 1
                call.after_end += 1
                return
            seq = marker[1]
            if self.fake.track and call.sessions and call.sessions[0] is not self:
                flow = call.up
                if seq < flow.next and seq not in flow.missing:
                    call.resent += 1
                    return
            self.rec.up(call, seq, now)
            if self.fake.track:
                self.last_seq, self.last_at = seq, now
                call.up_at.setdefault(seq, now)
            self.appends += 1
            every = self.fake.barge_every
            if every and self.appends % every == call.index % every:
                self._barge(call, now)
            every = self.fake.turn_every
            if every and self.appends % every == call.index % every:
                self._turn()
            # one delta back per append: model audio at the caller's own real pace
            down = call.down
            seq = len(down.sent)
            down.sent.append(clock())
            self.send_text(
                self.delta_head
                + self.item
                + b'","output_index":0,"content_index":0,"delta":"'
                + frame_payload(call.index, seq)
                + b'"}'
            )
            if self.expire_after_frame:
                self.expire()
            return
        try:
            event = orjson.loads(data)
            kind = str(event.get("type"))
        except (orjson.JSONDecodeError, AttributeError):
            kind = "<invalid>"
        self.fake.client_events[kind] += 1
        if kind == "session.update" and not self.ended:
            self._update(event.get("session"))

    def _update(self, update: object) -> None:
        """Apply a `session.update` and confirm it with the effective session, as the real
        server does (our server checks the audio formats in it). Once a session: off the
        hot path."""
        config = self.config
        if isinstance(update, dict):
            for key, value in update.items():
                if key == "audio" and isinstance(value, dict):
                    for side in ("input", "output"):
                        part = value.get(side)
                        if isinstance(part, dict):
                            config["audio"][side].update(part)
                elif key not in ("id", "object", "expires_at"):
                    config[key] = value
        self.send_text(
            b'{"type":"session.updated","event_id":"ev_1","session":' + orjson.dumps(config) + b"}"
        )
        if not self.updated_at:
            self.updated_at = clock()

    def expire(self) -> None:
        """End the session under a live call as the real service does at its maximum
        duration: `error` session_expired, then close 1001, and nothing heard after."""
        if self.ended or self.closed or not self.is_open:
            return
        self.send_text(_EXPIRED)
        self.ended = True
        self.ended_at = clock()
        self.close(1001, EXPIRED_MESSAGE, linger=True)
        self.loop.call_later(CLOSE_WAIT_S, self._drop_if_open)

    def end_call(self) -> None:
        """End the call from the model side: an account error, then the close."""
        self.send_text(_QUOTA)
        self.close(1000)

    def _drop_if_open(self) -> None:
        if not self.closed:
            self.abort()

    def _barge(self, call: Call, now: float) -> None:
        """The caller starts talking over queued model audio (VAD's speech_started)."""
        call.barge_sent_at = now
        call.barges_sent += 1
        self.send_text(
            b'{"type":"input_audio_buffer.speech_started","event_id":"ev_s","audio_start_ms":'
            b'0,"item_id":"%su%d"}' % (self.ids, self.items + 1)
        )
        self._turn()

    def _turn(self) -> None:
        """What a turn leaves in the store (and in a renewed session's replay): the model
        item's transcript and the caller's words; the model goes on in a new item."""
        self.items += 1
        cut_item, self.item = self.item, self.ids + b"a%d" % self.items
        user_item = self.ids + b"u%d" % self.items
        self.send_text(
            b'{"type":"response.output_audio_transcript.done","event_id":"ev_t","response_id":"'
            + self.response
            + b'","item_id":"'
            + cut_item
            + b'","output_index":0,"content_index":0,'
            b'"transcript":"Sure, I can help with that booking."}'
        )
        self.send_text(
            b'{"type":"conversation.item.input_audio_transcription.completed","event_id":'
            b'"ev_u","item_id":"' + user_item + b'","content_index":0,'
            b'"transcript":"Sorry, one more thing."}'
        )


# ---- the carrier's media-stream client --------------------------------------------------

# Only our server writes to the carrier, so its messages are told apart by how it writes them.
_MEDIA = wire.MEDIA_PREFIX.encode()
_MARK_EV = wire.MARK_PREFIX.encode()
_CLEAR = wire.CLEAR_PREFIX.encode()
_PAYLOAD = wire.PAYLOAD_AT.encode()
_NAME = wire.NAME_AT.encode()


class Caller(wsraw.WsConnection):
    """One call's media stream, Twilio's side of it."""

    is_client = True

    def __init__(self, call: Call, rec: Recorder) -> None:
        super().__init__()
        self.call = call
        self.rec = rec
        self.loop = asyncio.get_running_loop()
        # the carrier's per-frame messages, as `bytes % (...)` templates
        self.media_template = wire.carrier_media_template(call.stream_sid)
        self.mark_template = wire.carrier_mark_template(call.stream_sid)
        self.seq = 0  # Twilio's sequenceNumber: every message after `connected`
        self.k = 0  # media frames sent
        self.t0 = 0.0  # loop clock: the schedule
        self.t0_clock = 0.0  # measuring clock: the same instant
        self.play_end = 0.0
        self.marks: list[tuple[float, bytes]] = []
        self.handle: asyncio.TimerHandle | None = None
        self.stopping = False
        self.done = self.loop.create_future()
        self.other = 0

    def _next(self) -> int:
        self.seq += 1
        return self.seq

    def on_open(self) -> None:
        call = self.call
        self.send_text(orjson.dumps(wire.carrier_connected()))
        start = wire.carrier_start(
            str(self._next()),
            call.stream_sid,
            account_sid=ACCOUNT_SID,
            call_sid=call.call_sid,
            parameters={wire.TOKEN_PARAMETER: call.token} if call.token else {},
        )
        self.send_text(orjson.dumps(start))
        self.t0 = self.loop.time()
        call.start_sent_at = self.t0_clock = clock()
        self._tick()

    def _tick(self) -> None:
        if self.stopping or self.closed:
            return
        k = self.k
        now = clock()
        if self.rec.window:
            self.rec.lag.append(now - (self.t0_clock + k * FRAME_S))
        seq = self._next()
        self.call.up.sent.append(now)
        self.send_text(
            self.media_template % (seq, k + 1, k * 20, frame_payload(self.call.index, k))
        )
        self.k = k + 1
        self._echo_marks(now)
        self.handle = self.loop.call_at(self.t0 + self.k * FRAME_S, self._tick)

    def _echo_marks(self, now: float) -> None:
        marks = self.marks
        i = 0
        while i < len(marks) and marks[i][0] <= now:
            self.send_text(self.mark_template % (self._next(), marks[i][1]))
            i += 1
        if i:
            del marks[:i]

    def on_text(self, data: bytes) -> None:
        now = clock()
        if data.startswith(_MEDIA):
            at = data.find(_PAYLOAD) + len(_PAYLOAD)
            marker = read_marker(data[at : at + _MARK_B64])
            if marker is None or marker[0] != self.call.index:
                self.rec.unknown_markers += 1
            else:
                self.rec.down(self.call, marker[1], now)
            # it plays after whatever is queued: 160 bytes = 20 ms
            self.play_end = max(self.play_end, now) + FRAME_S
        elif data.startswith(_MARK_EV):
            at = data.find(_NAME) + len(_NAME)
            self.call.marks_received += 1
            self.marks.append((self.play_end, data[at : data.find(b'"', at)]))
        elif data.startswith(_CLEAR):
            call = self.call
            call.clears += 1
            if call.barge_sent_at is not None:
                if self.rec.window:
                    self.rec.lat_barge.append(now - call.barge_sent_at)
                call.barge_sent_at = None
            # Twilio drops the queue and echoes every pending mark at once
            self.play_end = now
            for i in range(len(self.marks)):
                self.marks[i] = (now, self.marks[i][1])
            self._echo_marks(now)
        else:
            self.other += 1

    def on_closed(self) -> None:
        self.call.close_code = self.close_code
        if self.handle is not None:
            self.handle.cancel()
        if not self.done.done():
            self.done.set_result(None)

    async def hang_up(self, drain_s: float = 2.0, how: str = "stop") -> None:
        """Stop talking, let the audio in flight arrive, then end the call `how`:
        `stop` (Twilio's stop message, then the server closes), `drop` (the carrier's TCP
        connection just goes away) or `model` (the model side ends it with an account
        error and closes its WebSocket — a session that merely closes is renewed; the
        server must hang up through the carrier REST API and close the stream)."""
        self.stopping = True
        if self.handle is not None:
            self.handle.cancel()
        call = self.call
        deadline = self.loop.time() + drain_s
        while self.loop.time() < deadline and not self.closed:
            if call.up.next >= len(call.up.sent) and call.down.next >= len(call.down.sent):
                break
            await asyncio.sleep(0.02)
        self._echo_marks(float("inf"))
        if how == "drop":
            self.abort()
            await asyncio.shield(self.done)
            return
        if how == "model" and call.model is not None:
            call.model.end_call()
        else:
            stop = wire.carrier_stop(
                str(self._next()), call.stream_sid, account_sid=ACCOUNT_SID, call_sid=call.call_sid
            )
            self.send_text(orjson.dumps(stop))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5.0):
                await asyncio.shield(self.done)  # the server ends the call and closes
        if not self.closed:
            self.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2.0):
                    await asyncio.shield(self.done)
            self.abort()


# ---- the target server process ----------------------------------------------------------


class Target:
    """`python -m benchmarks.target` in its own process, pinned to one core."""

    def __init__(self, kind: str, fake: FakeModel, *, max_calls: int, cpu: int | None) -> None:
        self.kind = kind
        self.fake = fake
        self.max_calls = max_calls
        self.cpu = cpu
        self.proc: asyncio.subprocess.Process | None = None
        self.port = 0
        self.data_dir = Path(tempfile.mkdtemp(prefix=f"vcrt-bench-{kind.replace('+', '-')}-"))
        self.log_path = self.data_dir / "server.log"

    async def start(self) -> None:
        kind, *flags = self.kind.split("+")
        args = [
            sys.executable,
            "-m",
            "benchmarks.target",
            "--kind",
            kind,
            "--model-url",
            self.fake.url,
            "--rest-url",
            self.fake.rest_url,
            "--data-dir",
            str(self.data_dir / "data"),
            "--max-calls",
            str(self.max_calls),
        ]
        if self.cpu is not None:
            args += ["--cpu", str(self.cpu)]
        if "uvloop" in flags:
            args += ["--loop", "uvloop"]
        if "fastnet" in flags:
            args += ["--fastnet"]
        if "noprewarm" in flags:
            args += ["--no-prewarm"]
        if "nolimit" in flags:
            args += ["--no-connector-limit"]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
        with self.log_path.open("wb") as log:
            self.proc = await asyncio.create_subprocess_exec(
                *args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env, cwd=REPO
            )
        assert self.proc.stdout is not None
        try:
            line = await asyncio.wait_for(self.proc.stdout.readline(), 30)
        except TimeoutError:
            line = b""
        if not line:
            raise RuntimeError(f"target {self.kind} did not start: {self.log_tail()}")
        self.port = int(json.loads(line)["port"])

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def stop(self) -> int | None:
        proc = self.proc
        if proc is None:
            return None
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if proc.stdin is not None:
            proc.stdin.close()
        return proc.returncode


# ---- one run ----------------------------------------------------------------------------

_TOKEN = re.compile(f'name="{wire.TOKEN_PARAMETER}" value="([^"]+)"')


@dataclass
class RunOptions:
    # "ours", "bare" or a bare relay on another stack ("bare-aiohttp", "bare-picows",
    # "bare-starlette"), with flags: "+uvloop" (the target's event loop), "+nolimit" (ours:
    # no connection limit on the server's HTTP client; see target.py)
    kind: str
    n: int
    seconds: float
    ramp_per_s: float = 100.0  # calls admitted per second
    answer_gap_s: float = 0.2  # TwiML fetched → stream opened (Twilio takes ~100-300 ms)
    barge_every_s: float = 5.0  # 0: no barge-in
    settle_s: float = 1.0  # after the last call starts, before the window opens
    pin: bool = True
    server_cpu: int | None = None
    loadgen_cpu: int | None = None
    warmup: bool = True
    profile: Path | None = None  # py-spy the server during the window, write here
    # end the calls in turn by `stop`, by dropping the carrier connection, and from the
    # model side (leftovers must be zero whatever ended a call)
    mixed_endings: bool = False
    leftover_timeout_s: float = 10.0


def pick_cpus() -> tuple[int | None, int | None]:
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    return cpus[0], cpus[1]


def _pct(values: array[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    i = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return float(ordered[i]) * 1000.0


def _ms(values: array[float]) -> dict[str, float | None]:
    return {
        "p50": _pct(values, 50),
        "p99": _pct(values, 99),
        "max": max(values) * 1000.0 if values else None,
        "n": len(values),
    }


async def _admit(
    call: Call,
    rec: Recorder,
    opts: RunOptions,
    port: int,
    http: aiohttp.ClientSession | None,
) -> Caller | None:
    try:
        if opts.kind.startswith("ours"):
            assert http is not None
            params = call_params(
                account_sid=ACCOUNT_SID,
                call_sid=call.call_sid,
                status="ringing",
                from_="+14155550177",
                to=FROM_NUMBER,
                direction="inbound",
            )
            url = PUBLIC_URL + "/voice/answer"
            async with http.post(
                f"http://127.0.0.1:{port}/voice/answer",
                data=params,
                headers=signature_headers(url, params, auth_token=AUTH_TOKEN),
            ) as response:
                body = await response.text()
            found = _TOKEN.search(body)
            if response.status != 200 or found is None:
                call.error = f"answer webhook: HTTP {response.status} {body[:200]}"
                return None
            call.token = found.group(1)
        await asyncio.sleep(opts.answer_gap_s)  # Twilio fetching the stream URL
        caller = await wsraw.connect(
            lambda: Caller(call, rec), "127.0.0.1", port, "/voice/realtime-stream"
        )
        assert isinstance(caller, Caller)
        call.caller = caller
        return caller
    except (OSError, ConnectionError, TimeoutError, aiohttp.ClientError) as exc:
        call.error = f"{type(exc).__name__}: {exc}"
        return None


async def _wait_for(pred: Any, timeout_s: float, step: float = 0.05) -> float | None:
    """Poll `pred()` until true; seconds it took, or None on timeout."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while True:
        if pred():
            return loop.time() - start
        if loop.time() - start >= timeout_s:
            return None
        await asyncio.sleep(step)


async def _calls(
    rec: Recorder,
    opts: RunOptions,
    port: int,
    first_index: int,
    n: int,
    http: aiohttp.ClientSession | None,
) -> list[Caller | None]:
    interval = 1.0 / opts.ramp_per_s if opts.ramp_per_s > 0 else 0.0
    tasks = []
    for i in range(n):
        call = Call(first_index + i)
        rec.calls[call.index] = call
        tasks.append(asyncio.create_task(_admit(call, rec, opts, port, http)))
        if interval:
            await asyncio.sleep(interval)
    return list(await asyncio.gather(*tasks))


ENDINGS = ("stop", "drop", "model")


def ending(call: Call, mixed: bool) -> str:
    """How this call ends: always `stop`, or in turn each way a call can end."""
    return ENDINGS[call.index % len(ENDINGS)] if mixed else "stop"


async def _hang_up_all(callers: list[Caller | None], mixed: bool = False) -> None:
    await asyncio.gather(*(c.hang_up(how=ending(c.call, mixed)) for c in callers if c is not None))


class _Profiler:
    def __init__(self, pid: int, out: Path, seconds: float) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.pid, self.out, self.seconds = pid, out, seconds

    def start(self) -> None:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        beside = Path(sys.executable).with_name("py-spy")  # installed into the same venv
        exe = str(beside) if beside.exists() else "py-spy"
        base = [exe, "record", "--pid", str(self.pid), "--duration", str(int(self.seconds))]
        base += ["--rate", "100", "--format", "raw", "-o", str(self.out)]
        if os.environ.get("VCRT_BENCH_NATIVE"):  # C frames too (uvloop, aiohttp's parser)
            base.append("--native")
        try:
            self.proc = subprocess.Popen(base, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        except FileNotFoundError:
            print("py-spy not found: no profile (pip install py-spy)", file=sys.stderr)

    async def wait(self) -> None:
        if self.proc is not None:
            await asyncio.to_thread(self.proc.wait, 60)


async def run_once(opts: RunOptions) -> dict[str, Any]:
    """Run N calls against one target; everything measured, as a dict."""
    loop = asyncio.get_running_loop()
    rec = Recorder()
    ours = opts.kind.startswith("ours")
    barge_frames = int(opts.barge_every_s / FRAME_S) if ours else 0
    fake = FakeModel(rec, barge_every_frames=barge_frames)
    await fake.start()
    server_cpu, lg_cpu = opts.server_cpu, opts.loadgen_cpu
    if opts.pin and server_cpu is None:
        server_cpu, lg_cpu = pick_cpus()
    old_affinity = os.sched_getaffinity(0)
    if opts.pin and lg_cpu is not None:
        os.sched_setaffinity(0, {lg_cpu})
    target = Target(opts.kind, fake, max_calls=opts.n + 16, cpu=server_cpu if opts.pin else None)
    result: dict[str, Any] = {"kind": opts.kind, "n": opts.n, "seconds": opts.seconds}
    connector = aiohttp.TCPConnector(force_close=True, limit=64)
    http = aiohttp.ClientSession(connector=connector)
    try:
        await target.start()
        stat = ProcStat(target.pid)
        result["stat_backend"] = stat.backend
        base_fds_cold = stat.num_fds()
        next_index = 0
        if opts.warmup:  # one short call first: lazily created things are not leftovers
            warm = await _calls(rec, opts, target.port, next_index, 1, http)
            next_index += 1
            await asyncio.sleep(0.5)
            await _hang_up_all(warm)
            await _wait_for(lambda: fake.open_sessions == 0, 5)
            await asyncio.sleep(0.3)
        base = {
            "fds": stat.num_fds(),
            "fds_cold": base_fds_cold,
            "threads": stat.num_threads(),
            "rss_mb": stat.rss_bytes() / 2**20,
            "model_sockets": stat.sockets_to_port(fake.port),
        }
        result["baseline"] = base
        first = next_index
        t_admit = loop.time()
        callers = await _calls(rec, opts, target.port, first, opts.n, http)
        measured = [rec.calls[first + i] for i in range(opts.n)]
        result["admit_s"] = loop.time() - t_admit
        # every admitted call streaming both ways
        await _wait_for(
            lambda: all(c.error is not None or c.down.received > 0 for c in measured), 15
        )
        await asyncio.sleep(opts.settle_s)
        # ---- steady window ----
        profiler = None
        if opts.profile is not None:
            profiler = _Profiler(target.pid, opts.profile, opts.seconds)
            profiler.start()
        rss = []
        # the leftover counters must see live calls, or their zeros later would mean nothing
        during = {"model_sockets": stat.sockets_to_port(fake.port), "fds": stat.num_fds()}
        cpu0, lg0, t0 = stat.cpu_seconds(), self_cpu_seconds(), time.perf_counter()
        rec.window = True
        end = loop.time() + opts.seconds
        while loop.time() < end:
            await asyncio.sleep(min(0.5, max(0.0, end - loop.time())))
            rss.append(stat.rss_bytes() / 2**20)
        rec.window = False
        cpu1, lg1, t1 = stat.cpu_seconds(), self_cpu_seconds(), time.perf_counter()
        if profiler is not None:
            await profiler.wait()
        window_s = t1 - t0
        frames = rec.frames_up_window + rec.frames_down_window
        cpu_s = cpu1 - cpu0
        streaming = sum(1 for c in measured if c.error is None and c.down.received > 0)
        # ---- hang up, then count what is left ----
        mixed = opts.mixed_endings and ours  # the bare relay hangs up nobody
        await _hang_up_all(callers, mixed)
        t_end = loop.time()
        clean_after = await _wait_for(
            lambda: (
                fake.open_sessions == 0
                and stat.num_fds() <= base["fds"]
                and stat.sockets_to_port(fake.port) == 0
            ),
            opts.leftover_timeout_s,
            0.1,
        )
        leftovers = {
            "model_sessions_open": fake.open_sessions,
            "model_sockets": stat.sockets_to_port(fake.port),
            "fds_over_baseline": stat.num_fds() - base["fds"],
            "threads_over_baseline": stat.num_threads() - base["threads"],
            "clean_after_s": None if clean_after is None else round(clean_after, 3),
        }
        # a call that never streamed is counted as failed, not as thousands of lost frames
        ok = [c for c in measured if c.error is None and c.down.received > 0]
        lost_up = sum(c.up.lost for c in ok)
        lost_down = sum(c.down.lost for c in ok)
        setup = array("d")
        for c in measured:
            if c.start_sent_at is not None and c.first_up_at is not None:
                setup.append(c.first_up_at - c.start_sent_at)
        rss_steady = max(rss) if rss else base["rss_mb"]
        result.update(
            {
                "calls": {
                    "admitted": opts.n,
                    "streaming": streaming,
                    "failed": opts.n - streaming,
                    "errors": sorted({c.error for c in measured if c.error})[:5],
                    "server_close_codes": dict(Counter(str(c.close_code) for c in measured)),
                },
                "window_s": round(window_s, 3),
                "frames_window": {"up": rec.frames_up_window, "down": rec.frames_down_window},
                "frames_per_s": frames / window_s if window_s else 0.0,
                "latency_up_ms": _ms(rec.lat_up),
                "latency_down_ms": _ms(rec.lat_down),
                "barge_in_ms": _ms(rec.lat_barge),
                "barge_ins": {
                    "sent": sum(c.barges_sent for c in measured),
                    "clears": sum(c.clears for c in measured),
                },
                "setup_ms": _ms(setup),
                "cpu": {
                    "server_s": round(cpu_s, 4),
                    "core_pct": 100.0 * cpu_s / window_s if window_s else None,
                    "us_per_frame": 1e6 * cpu_s / frames if frames else None,
                    "loadgen_core_pct": 100.0 * (lg1 - lg0) / window_s if window_s else None,
                    "loadgen_lag_ms": _ms(rec.lag),
                },
                "memory": {
                    "rss_base_mb": round(base["rss_mb"], 2),
                    "rss_steady_mb": round(rss_steady, 2),
                    "mb_per_call": (rss_steady - base["rss_mb"]) / opts.n if opts.n else None,
                },
                "frames": {
                    "sent_up": sum(len(c.up.sent) for c in measured),
                    "sent_down": sum(len(c.down.sent) for c in measured),
                    "lost_up": lost_up,
                    "lost_down": lost_down,
                    "reordered": sum(c.up.reordered + c.down.reordered for c in measured),
                    "duplicates": sum(c.up.duplicates + c.down.duplicates for c in measured),
                    "unknown": rec.unknown_markers,
                },
                "marks_received": sum(c.marks_received for c in measured),
                "model_client_events": dict(fake.client_events),
                "carrier_rest_requests": fake.rest_requests,
                "endings": dict(Counter(ending(c, mixed) for c in measured)),
                # a call ended from the model side is hung up through the carrier's API
                "expected_rest_requests": sum(
                    1 for c in measured if ending(c, mixed) == "model" and c.error is None
                ),
                "hangup_s": round(loop.time() - t_end, 3),
                "leftovers": leftovers,
                "during": during,
                "cpus": {"server": server_cpu, "loadgen": lg_cpu} if opts.pin else None,
            }
        )
    finally:
        await http.close()
        result["target_exit"] = await target.stop()
        await fake.close()
        if opts.pin:
            os.sched_setaffinity(0, old_affinity)
    return result


def correctness_problems(result: dict[str, Any]) -> list[str]:
    """What the smoke asserts: every call streamed, nothing lost or reordered, nothing left."""
    problems = []
    calls, frames, left = result["calls"], result["frames"], result["leftovers"]
    if calls["failed"]:
        problems.append(f"{calls['failed']} call(s) failed: {calls['errors']}")
    for key in ("lost_up", "lost_down", "reordered", "duplicates", "unknown"):
        if frames[key]:
            problems.append(f"{key}: {frames[key]}")
    if not result["frames_window"]["up"] or not result["frames_window"]["down"]:
        problems.append(f"no frames in the window: {result['frames_window']}")
    for key in ("model_sessions_open", "model_sockets", "fds_over_baseline"):
        if left[key]:
            problems.append(f"leftover {key}: {left[key]}")
    live = calls["admitted"]
    if result["during"]["model_sockets"] != live:
        problems.append(
            f"the socket counter saw {result['during']['model_sockets']} model sockets "
            f"during {live} calls"
        )
    if result.get("carrier_rest_requests") != result.get("expected_rest_requests", 0):
        problems.append(
            f"carrier REST requests: {result['carrier_rest_requests']}, expected "
            f"{result.get('expected_rest_requests', 0)} (hang-ups of model-ended calls)"
        )
    return problems


async def run_leak(
    total: int = 1000, wave: int = 50, call_s: float = 1.0, pin: bool = True
) -> dict[str, Any]:
    """Leak check: `total` calls through one server, `wave` at a time, each `call_s` long.

    RSS and descriptors are read after every wave, once its calls have ended; a leak shows
    as growth from the early waves to the last ones.
    """
    rec = Recorder()
    fake = FakeModel(rec, barge_every_frames=int(0.5 / FRAME_S))
    await fake.start()
    server_cpu, lg_cpu = pick_cpus() if pin else (None, None)
    old_affinity = os.sched_getaffinity(0)
    if lg_cpu is not None:
        os.sched_setaffinity(0, {lg_cpu})
    opts = RunOptions(kind="ours", n=wave, seconds=call_s, pin=pin, ramp_per_s=200)
    target = Target("ours", fake, max_calls=wave + 16, cpu=server_cpu)
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True, limit=64))
    waves: list[dict[str, Any]] = []
    try:
        await target.start()
        stat = ProcStat(target.pid)
        index = 0
        while index < total:
            n = min(wave, total - index)
            callers = await _calls(rec, opts, target.port, index, n, http)
            index += n
            await asyncio.sleep(call_s)
            await _hang_up_all(callers)
            await _wait_for(lambda: fake.open_sessions == 0, 10)
            await asyncio.sleep(0.2)
            if os.environ.get("VCRT_BENCH_TRACEMALLOC") or os.environ.get("VCRT_BENCH_GC"):
                os.kill(target.pid, signal.SIGUSR1)  # leak hunting (target.py): snapshot / gc
                await asyncio.sleep(0.2)
            waves.append(
                {
                    "calls": index,
                    "rss_mb": round(stat.rss_bytes() / 2**20, 2),
                    "fds": stat.num_fds(),
                    "model_sockets": stat.sockets_to_port(fake.port),
                }
            )
        measured = [rec.calls[i] for i in range(total)]
        # Growth is read over the second half: the first calls warm caches that fill and
        # stop (SQLite's page cache takes ~1,000 calls), a leak keeps growing to the end.
        early = waves[len(waves) // 2 - 1] if len(waves) > 1 else waves[0]
        last = waves[-1]
        calls_between = max(1, last["calls"] - early["calls"])
        return {
            "calls": total,
            "wave": wave,
            "failed": sum(1 for c in measured if c.error or not c.down.received),
            "lost": sum(c.up.lost + c.down.lost for c in measured),
            "reordered": sum(c.up.reordered + c.down.reordered for c in measured),
            "waves": waves,
            "rss_growth_mb": round(last["rss_mb"] - early["rss_mb"], 2),
            "rss_growth_kb_per_100_calls": round(
                (last["rss_mb"] - early["rss_mb"]) * 1024 * 100 / calls_between, 1
            ),
            "fds_growth": last["fds"] - early["fds"],
            "model_sockets_left": last["model_sockets"],
        }
    finally:
        await http.close()
        await target.stop()
        await fake.close()
        if lg_cpu is not None:
            os.sched_setaffinity(0, old_affinity)


# ---- session renewal ----------------------------------------------------------------------

# Far beyond the probe: our server must not renew ahead of time (that kind has no gap); the
# probe measures the unplanned kind, a session ended under a live call.
RENEWAL_LIFETIME_S = 30 * 24 * 3600.0
# Caller frames sent from this long before a renewal to this long after it (or after the
# new session's first frame, if later) are the ones it can delay or lose.
_AROUND_BEFORE_S = 0.2
_AROUND_AFTER_S = 1.0


@dataclass
class Renewal:
    call: Call
    old: ModelSession
    asked_at: float

    @property
    def at(self) -> float:
        """When the model wrote `session_expired` and its close (measuring clock)."""
        return self.old.ended_at if self.old.ended_at is not None else self.asked_at


def _renewal_row(r: Renewal) -> dict[str, Any]:
    """One renewal seen from outside: the worst delay of the caller frames it could hold
    up (from the carrier sending each to a live model session receiving it), the arrival
    gap, and the frames around it that never reached a live session."""
    call, old = r.call, r.old
    idx = next((i for i, s in enumerate(call.sessions) if s is old), -1)
    new = call.sessions[idx + 1] if 0 <= idx < len(call.sessions) - 1 else None
    end = r.at + _AROUND_AFTER_S
    if new is not None:
        end = max(end, new.first_at + _AROUND_BEFORE_S)
    sent = call.up.sent
    lo, hi = bisect.bisect_left(sent, r.at - _AROUND_BEFORE_S), bisect.bisect_right(sent, end)
    lost = [seq for seq in range(lo, hi) if seq not in call.up_at]
    # The frames the renewal can hold up: from one sent a frame interval before the end
    # (it may still be on its way) to the first one sent after the new session was
    # confirmed. A wider window would report the background jitter of its frames instead.
    held_lo = bisect.bisect_left(sent, r.at - FRAME_S)
    held_hi = hi if new is None else min(hi, bisect.bisect_right(sent, new.updated_at) + 1)
    delays = [call.up_at[seq] - sent[seq] for seq in range(held_lo, held_hi) if seq in call.up_at]
    row: dict[str, Any] = {
        "call": call.index,
        "session": idx + 1,
        "observed": new is not None,
        "frames_around": hi - lo,
        "frames_held": held_hi - held_lo,
        "worst_delay_ms": round(max(delays, default=0.0) * 1000, 3),
        "lost": len(lost),
        "lost_seqs": lost[:10],
        # when the carrier sent each lost frame, from the moment the model ended the session
        "lost_sent_ms": [round((sent[seq] - r.at) * 1000, 3) for seq in lost[:10]],
        "after_end": old.after_end,
    }
    if new is not None:
        # from the last frame the old session heard to the first the new one heard, less
        # the 20 ms a frame is due anyway: the hole in what the model hears
        row["arrival_gap_ms"] = round((new.first_at - old.last_at - FRAME_S) * 1000, 3)
        row["first_seq_new"] = new.first_seq
        row["last_seq_old"] = old.last_seq
        # from the end of the old session: the new one connected, confirmed, first heard
        # the caller (the confirmation is the worst gap a caller frame could see, had one
        # been due just as the old session ended)
        row["reconnect_ms"] = round((new.opened_at - r.at) * 1000, 3)
        row["ready_ms"] = round((new.updated_at - r.at) * 1000, 3)
        row["first_frame_ms"] = round((new.first_at - r.at) * 1000, 3)
    return row


def _server_renewals(db: Path, sids: dict[str, int]) -> dict[str, Any]:
    """What our server journaled about the renewals (`model.renewed` and friends), read
    from its store once it has stopped; {} if there is no store."""
    if not db.exists():
        return {}
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            rows = con.execute(
                "SELECT c.carrier_sid, c.end_reason, e.kind, e.data FROM events e "
                "JOIN calls c ON c.id = e.call_id WHERE e.kind IN "
                "('model.renewed', 'model.lost', 'model.retry', 'model.renew_failed', 'end')"
            ).fetchall()
        finally:
            con.close()
    except sqlite3.Error as exc:
        return {"error": str(exc)}
    renewed: list[dict[str, Any]] = []
    causes: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    ends: Counter[str] = Counter()
    dropped = 0
    for sid, end_reason, kind, raw in rows:
        if sid not in sids:
            continue  # the warm-up call
        data = json.loads(raw)
        kinds[kind] += 1
        if kind == "model.renewed":
            causes[str(data.get("cause"))] += 1
            renewed.append(data)
        elif kind == "end":
            dropped += int(data.get("dropped_frames") or 0)
            ends[str(end_reason)] += 1
    gaps = array("d", (d["gap_ms"] / 1000 for d in renewed if isinstance(d.get("gap_ms"), int)))
    return {
        "renewed": len(renewed),
        "causes": dict(causes),
        "events": dict(kinds),
        "gap_ms": _ms(gaps),
        "buffered_frames": sum(int(d.get("buffered_frames") or 0) for d in renewed),
        "replayed_items": [int(d.get("replayed_items") or 0) for d in renewed],
        "dropped_frames": dropped,
        "end_reasons": dict(ends),
    }


async def run_renewals(
    kind: str = "ours+uvloop",
    renewals: int = 20,
    calls: int = 4,
    every_s: float = 3.0,
    turn_every_s: float = 1.0,
    phase: str = "random",
    pin: bool = True,
) -> dict[str, Any]:
    """Session renewal under live calls: `calls` calls, the model ending one of their
    sessions every `every_s / calls` seconds in turn (`session_expired`, close 1001, no
    advance `expires_at`), `renewals` in all; every caller frame followed by marker.

    `phase`: when in the 20 ms frame cycle a session ends. `random` (a seeded uniform
    offset), as a real expiry falls; `after-frame`, just after a caller frame reached the
    model, so the next one is ~20 ms away: the server has that long to renew before any
    frame can meet the closing session (the smoke's deterministic case)."""
    loop = asyncio.get_running_loop()
    rec = Recorder()
    calls = max(1, min(calls, renewals))
    fake = FakeModel(
        rec,
        turn_every_frames=int(turn_every_s / FRAME_S),
        session_lifetime_s=RENEWAL_LIFETIME_S,
        track=True,
    )
    await fake.start()
    server_cpu, lg_cpu = pick_cpus() if pin else (None, None)
    old_affinity = os.sched_getaffinity(0)
    if lg_cpu is not None:
        os.sched_setaffinity(0, {lg_cpu})
    opts = RunOptions(kind=kind, n=calls, seconds=0.0, pin=pin, ramp_per_s=10, barge_every_s=0)
    target = Target(kind, fake, max_calls=calls + 16, cpu=server_cpu)
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True, limit=64))
    result: dict[str, Any] = {
        "kind": kind,
        "calls": calls,
        "renewals_asked": renewals,
        "every_s": every_s,
        "phase": phase,
    }
    try:
        await target.start()
        stat = ProcStat(target.pid)
        base_fds = stat.num_fds()
        callers = await _calls(rec, opts, target.port, 0, calls, http)
        measured = [rec.calls[i] for i in range(calls)]
        await _wait_for(
            lambda: all(c.error is not None or c.down.received > 0 for c in measured), 15
        )
        await asyncio.sleep(1.0)  # past the greeting and the first turns
        rec.window = True  # the carrier's send lag, for the generator's own health
        done: list[Renewal] = []
        skipped = 0
        spacing = every_s / calls
        due = loop.time()
        rng = random.Random(9)  # the same phases run after run
        for i in range(renewals):
            jitter = rng.uniform(0.0, FRAME_S) if phase == "random" else 0.0
            await asyncio.sleep(max(0.0, due + jitter - loop.time()))
            due += spacing
            call = measured[i % calls]
            session = call.model
            if call.error is None and session is not None and not session.ended:
                done.append(Renewal(call, session, clock()))
                if phase == "after-frame":
                    session.expire_after_frame = True
                else:
                    session.expire()
            else:  # the call failed, or its last renewal has not happened yet
                skipped += 1
        renewed = await _wait_for(lambda: all(r.call.model is not r.old for r in done), 10)
        await asyncio.sleep(_AROUND_AFTER_S)  # the frames after the last renewal arrive
        rec.window = False
        await _hang_up_all(callers)
        clean = await _wait_for(
            lambda: (
                fake.open_sessions == 0
                and stat.num_fds() <= base_fds
                and stat.sockets_to_port(fake.port) == 0
            ),
            10,
            0.1,
        )
        rows = [_renewal_row(r) for r in done]
        observed = [row for row in rows if row["observed"]]
        around: set[tuple[int, int]] = set()
        for r in done:
            sent = r.call.up.sent
            lo = bisect.bisect_left(sent, r.at - _AROUND_BEFORE_S)
            hi = bisect.bisect_right(sent, r.at + _AROUND_AFTER_S)
            around.update((r.call.index, seq) for seq in range(lo, hi))
        # every other frame: what a caller frame takes through our server meanwhile
        steady = array(
            "d",
            (
                t - c.up.sent[seq]
                for c in measured
                for seq, t in c.up_at.items()
                if (c.index, seq) not in around and seq < len(c.up.sent)
            ),
        )
        result.update(
            {
                "renewals": len(done),
                "skipped": skipped,
                "observed": len(observed),
                "all_observed_s": None if renewed is None else round(renewed, 3),
                "gap_ms": _ms(array("d", (row["worst_delay_ms"] / 1000 for row in observed))),
                "arrival_gap_ms": _ms(
                    array("d", (row["arrival_gap_ms"] / 1000 for row in observed))
                ),
                "ready_ms": _ms(array("d", (row["ready_ms"] / 1000 for row in observed))),
                "steady_delay_ms": _ms(steady),
                "frames": {
                    "sent_up": sum(len(c.up.sent) for c in measured),
                    "received_up": sum(len(c.up_at) for c in measured),
                    "lost_up": sum(c.up.lost for c in measured),
                    "lost_down": sum(c.down.lost for c in measured),
                    "duplicates": sum(c.up.duplicates for c in measured),
                    "reordered": sum(c.up.reordered for c in measured),
                    "after_end": sum(c.after_end for c in measured),
                    "resent": sum(c.resent for c in measured),
                    "lost_around_renewals": sum(row["lost"] for row in rows),
                    "unknown": rec.unknown_markers,
                },
                "failed": sum(1 for c in measured if c.error or not c.down.received),
                "errors": sorted({c.error for c in measured if c.error})[:5],
                "sessions_total": fake.sessions_total,
                "model_client_events": dict(fake.client_events),
                "loadgen_lag_ms": _ms(rec.lag),
                "leftovers": {
                    "model_sessions_open": fake.open_sessions,
                    "model_sockets": stat.sockets_to_port(fake.port),
                    "fds_over_baseline": stat.num_fds() - base_fds,
                    "clean_after_s": None if clean is None else round(clean, 3),
                },
                "per_renewal": rows,
            }
        )
    finally:
        await http.close()
        result["target_exit"] = await target.stop()
        await fake.close()
        if lg_cpu is not None:
            os.sched_setaffinity(0, old_affinity)
    sids = {c.call_sid: c.index for c in rec.calls.values()}
    result["server"] = _server_renewals(target.data_dir / "data" / "calls.sqlite3", sids)
    return result


def renewal_problems(result: dict[str, Any]) -> list[str]:
    """What the smoke asserts of the renewal probe: every renewal asked for happened and
    was seen by our server as the expiry it was, and no caller frame was lost or doubled."""
    problems = []
    if result.get("failed"):
        problems.append(f"{result['failed']} call(s) failed: {result.get('errors')}")
    asked = result["renewals_asked"]
    if result["renewals"] != asked or result["observed"] != asked:
        problems.append(
            f"renewals: asked {asked}, made {result['renewals']}, observed (a new session "
            f"heard the caller) {result['observed']}"
        )
    frames = result["frames"]
    for key in ("lost_up", "lost_down", "duplicates", "reordered", "unknown"):
        if frames[key]:
            problems.append(
                f"{key}: {frames[key]} (after the end of a session: {frames['after_end']})"
            )
    server = result.get("server") or {}
    if server.get("causes") != {"expired": asked}:
        problems.append(f"the server's model.renewed causes: {server.get('causes')}")
    left = result["leftovers"]
    for key in ("model_sessions_open", "model_sockets", "fds_over_baseline"):
        if left[key]:
            problems.append(f"leftover {key}: {left[key]}")
    return problems
