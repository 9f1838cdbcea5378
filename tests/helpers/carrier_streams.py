"""A media stream to our server, driven message by message, in any carrier's wire format.

The fake carriers do this for whole calls; tests that need to send what a carrier never
would (a stolen token, a malformed or oversized message) use `CarrierStream` instead. Each
carrier's messages come from its own `carrier_*` builders (carrier/<name>/wire.py); the
row (`DIALECTS`) only says which builder makes which message.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import aiohttp
import orjson

from tests.helpers.twilio_wire import STREAM_PATH, StreamClient
from voicecall_rt.carrier.plivo import wire as plivo_wire
from voicecall_rt.carrier.signalwire import wire as signalwire_wire
from voicecall_rt.carrier.telnyx import wire as telnyx_wire
from voicecall_rt.carrier.twilio import wire as twilio_wire
from voicecall_rt.simulator.plivo.fake import AUTH_ID as PLIVO_AUTH_ID
from voicecall_rt.simulator.signalwire.fake import PROJECT_ID
from voicecall_rt.simulator.twilio.fake import ACCOUNT_SID
from voicecall_rt.simulator.world import SimWorld

Message = dict[str, Any]


@dataclass(frozen=True)
class StreamDialect:
    """How one carrier's stream opens, carries a caller frame and ends."""

    new_stream_id: Callable[[], str]
    opening: Callable[[str, str, str | None], list[Message]]  # (stream id, call sid, token)
    media: Callable[[int, str, str], Message]  # (sequence number, stream id, payload)
    # The `stop` message; None when the carrier ends a stream by closing it (Plivo).
    stop: Callable[[int, str, str], Message] | None
    stop_reason: str  # the call's end reason once the stream has ended that way
    played: Callable[[int, str, str], Message]  # (seq, stream id, name): a mark's echo


def _numbered_media(builder: Callable[..., Message]) -> Callable[[int, str, str], Message]:
    """A caller frame from a builder that takes its numbers as strings (Twilio's shape)."""
    return lambda seq, sid, payload: builder(
        str(seq), sid, chunk=str(seq), timestamp=str(20 * seq), payload=payload
    )


def _twilio_like(wire: ModuleType, account: str, new_id: Callable[[], str]) -> StreamDialect:
    """Twilio's stream, or SignalWire's (its builders take the same arguments)."""

    def opening(stream_id: str, call_sid: str, token: str | None) -> list[Message]:
        custom = {} if token is None else {twilio_wire.TOKEN_PARAMETER: token}
        start = wire.carrier_start(
            "1", stream_id, account_sid=account, call_sid=call_sid, parameters=custom
        )
        return [wire.carrier_connected(), start]

    return StreamDialect(
        new_stream_id=new_id,
        opening=opening,
        media=_numbered_media(wire.carrier_media),
        stop=lambda seq, sid, call: wire.carrier_stop(
            str(seq), sid, account_sid=account, call_sid=call
        ),
        stop_reason="carrier-stop",
        played=lambda seq, sid, name: wire.carrier_mark(str(seq), sid, name),
    )


def _telnyx_opening(stream_id: str, call_sid: str, token: str | None) -> list[Message]:
    state = None if token is None else telnyx_wire.client_state("in", token)
    start = telnyx_wire.carrier_start("1", stream_id, call_control_id=call_sid, client_state=state)
    return [telnyx_wire.carrier_connected(), start]


def _plivo_opening(stream_id: str, call_sid: str, token: str | None) -> list[Message]:
    extra = "" if token is None else plivo_wire.extra_headers(token)
    start = plivo_wire.carrier_start(
        1, stream_id, account_id=PLIVO_AUTH_ID, call_id=call_sid, extra=extra
    )
    return [start]  # Plivo sends no `connected`


def _uuid() -> str:
    return str(uuid.uuid4())


DIALECTS: Mapping[str, StreamDialect] = {
    "twilio": _twilio_like(twilio_wire, ACCOUNT_SID, lambda: "MZ" + secrets.token_hex(16)),
    "signalwire": _twilio_like(signalwire_wire, PROJECT_ID, _uuid),
    "telnyx": StreamDialect(
        new_stream_id=_uuid,
        opening=_telnyx_opening,
        media=_numbered_media(telnyx_wire.carrier_media),
        stop=lambda seq, sid, call: telnyx_wire.carrier_stop(str(seq), sid, call_control_id=call),
        stop_reason="carrier-stop",
        played=lambda seq, sid, name: telnyx_wire.carrier_mark(str(seq), sid, name),
    ),
    "plivo": StreamDialect(
        new_stream_id=_uuid,
        opening=_plivo_opening,
        media=lambda seq, sid, payload: plivo_wire.carrier_media(
            seq, sid, chunk=seq, timestamp=str(1_790_000_000_000 + 20 * seq), payload=payload
        ),
        stop=None,  # Plivo has no `stop`: the stream ends when the socket closes
        stop_reason="carrier-closed",
        played=plivo_wire.carrier_played,
    ),
}


def _mark_name(message: Message) -> str | None:
    """The name of a mark our server sent (Twilio's, SignalWire's and Telnyx's `mark`,
    Plivo's `checkpoint`); None for any other message."""
    if message.get("event") == "checkpoint":
        return str(message["name"])
    if message.get("event") == "mark":
        return str(message["mark"]["name"])
    return None


class CarrierStream(StreamClient):
    """One media-stream WebSocket to our server, in one carrier's wire format (reading and
    closing as Twilio's `StreamClient` does)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, dialect: StreamDialect) -> None:
        super().__init__(ws)
        self.dialect = dialect
        self.stream_sid = dialect.new_stream_id()
        self._seq = 1  # the opening's start is 1

    @classmethod
    async def connect_as(
        cls, http: aiohttp.ClientSession, world: SimWorld, carrier: str
    ) -> CarrierStream:
        ws = await http.ws_connect(world.server.local_url + STREAM_PATH, autoping=True)
        return cls(ws, DIALECTS[carrier])

    def _seq_next(self) -> int:
        self._seq += 1
        return self._seq

    async def open(self, call_sid: str, token: str | None) -> None:
        """The carrier's greeting (if it has one) and its `start`, presenting `token`."""
        for message in self.dialect.opening(self.stream_sid, call_sid, token):
            await self.send(message)

    async def media(self, payload: str) -> None:
        await self.send(self.dialect.media(self._seq_next(), self.stream_sid, payload))

    async def play_out(self, audio_bytes: int, timeout_s: float = 10.0) -> None:
        """Play what our server sends as the carrier would, echoing each mark (Plivo: each
        checkpoint), until the marks say `audio_bytes` of the model's audio were heard."""
        heard = 0
        async with asyncio.timeout(timeout_s):
            while heard < audio_bytes:
                message = await self.ws.receive()
                if message.type is not aiohttp.WSMsgType.TEXT:
                    raise AssertionError(f"the stream ended before the audio played: {message}")
                name = _mark_name(orjson.loads(message.data))
                if name is None:
                    continue
                await self.send(self.dialect.played(self._seq_next(), self.stream_sid, name))
                # Our marks are named `<item id>:<end byte>` (call/playback.py).
                heard = max(heard, int(name.rpartition(":")[2]))

    async def finish(self, call_sid: str) -> int | None:
        """End the stream the carrier's way (its `stop`, or closing the socket); the close
        code our server gave, or None when we closed it."""
        if self.dialect.stop is None:
            await self.ws.close()
            return None
        await self.send(self.dialect.stop(self._seq_next(), self.stream_sid, call_sid))
        return await self.close_code()
