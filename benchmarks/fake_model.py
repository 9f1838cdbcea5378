"""The model side of the load generator: a minimal Realtime GA server.

One `FakeModel` per run, one `ModelSession` per WebSocket. A session opens as the real
service's does (`session.created` with `expires_at`; `session.updated` echoing the
effective session, since our server only relays once it reads µ-law both ways there), and
every `input_audio_buffer.append` gets one `response.output_audio.delta` back, so audio
flows 50 frames a second each way at the caller's own pace. Every few seconds it can send
`input_audio_buffer.speech_started` while the caller still has audio queued, then
transcripts, to exercise barge-in and the store; it can end a session under a live call as
the real service does at its maximum duration (`session_expired`, close 1001) for the
renewal probe, or end the call with an account error. It is a raw `asyncio.Protocol`
(`benchmarks/wsraw.py`) rather than a general-purpose server so that it stays cheap.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import Counter
from typing import Any

import orjson

from benchmarks import wsraw
from benchmarks.markers import MARK_B64, clock, frame_payload, read_marker
from benchmarks.recorder import Call, Recorder
from benchmarks.sides import CarrierSide, side
from benchmarks.sim_account import API_KEY

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
        carrier: CarrierSide | None = None,
    ) -> None:
        self.rec = rec
        # the carrier whose REST API our server calls here (hang-ups; Telnyx's answers)
        self.carrier = carrier if carrier is not None else side("twilio")
        self.barge_every = barge_every_frames
        # a finished turn (both sides' transcripts, no barge-in): a conversation to replay
        self.turn_every = turn_every_frames
        self.lifetime_s = session_lifetime_s
        self.track = track
        self.port = 0
        self.open_sessions = 0
        self.sessions_total = 0
        self.client_events: Counter[str] = Counter()
        self._server: asyncio.Server | None = None

    @property
    def rest_requests(self) -> int:
        """Our server's REST requests to the carrier, answers to inbound calls aside."""
        return self.rec.rest.requests

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

    def on_http(self, head: bytes, body: bytes) -> bool:
        # The carrier REST API lands here too: recorded and answered the carrier's way.
        request_line = head.split(b"\r\n", 1)[0].split(b" ", 2)
        if len(request_line) != 3:
            return False
        method, path, _ = request_line
        assert self.transport is not None
        self.transport.write(self.fake.carrier.rest_reply(method, path, body, self.rec.rest))
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
            marker = read_marker(data[at : at + MARK_B64]) if at >= _AUDIO_LEN else None
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
