"""Which Twilio-compatible carrier the fake Twilio plays: Twilio itself, or one that copies
its REST API, webhooks, TwiML and Media Streams with deltas (SignalWire's Compatibility API
and cXML, `simulator.signalwire`).

A `Dialect` is everything the fake does differently per carrier: where the REST API lives,
which header carries the webhook signature, what ids look like, whether the create call
takes `TimeLimit`, what `<Stream>` accepts (a query string, a codec) and the stream's
messages both ways. The lifecycle, the TwiML interpreter, the webhook outboxes and the far
end are the same for all of them.
"""

from __future__ import annotations

import secrets
from typing import Any, ClassVar, Protocol

from twilio.request_validator import SIGNATURE_HEADER

from voicecall_rt.carrier.twilio import wire as twilio_wire
from voicecall_rt.carrier.twilio.wire import ENCODING, SAMPLE_RATE, Ours

__all__ = ["TWILIO", "CarrierWire", "Dialect", "MediaFormat", "new_sid"]

MediaFormat = tuple[str, int]  # `start.mediaFormat`'s encoding and sample rate


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


class CarrierWire(Protocol):
    """A wire module's carrier side, shaped like `carrier.twilio.wire`'s."""

    def carrier_connected(self) -> dict[str, Any]: ...

    def carrier_start(
        self,
        seq: str,
        stream_sid: str,
        *,
        account_sid: str,
        call_sid: str,
        parameters: dict[str, str],
        encoding: str,
        sample_rate: int,
    ) -> dict[str, Any]: ...

    def carrier_media(
        self, seq: str, stream_sid: str, *, chunk: str, timestamp: str, payload: str
    ) -> dict[str, Any]: ...

    def carrier_mark(self, seq: str, stream_sid: str, name: str) -> dict[str, Any]: ...

    def carrier_dtmf(self, seq: str, stream_sid: str, digit: str) -> dict[str, Any]: ...

    def carrier_stop(
        self, seq: str, stream_sid: str, *, account_sid: str, call_sid: str
    ) -> dict[str, Any]: ...

    def read_ours(self, message: dict[str, Any], stream_sid: str | None) -> Ours: ...


class Dialect:
    """Twilio's own (docs/protocols.md §4); a compatible carrier subclasses it and states
    its deltas (see the module's docstring)."""

    name = "Twilio"  # in logs and errors
    rest_prefix = ""  # before `/2010-04-01/Accounts/…`
    signature_header = SIGNATURE_HEADER  # the webhook signature's header
    takes_time_limit = True  # `TimeLimit` is a create/update field (else it is ignored)
    refuses_stream_query = False  # Twilio drops a `<Stream url>`'s query (its `<Stream>` doc)
    signs_stream_upgrade = True  # the stream's WebSocket upgrade carries a signature
    wire: ClassVar[CarrierWire] = twilio_wire  # the stream's messages, both ways

    def call_sid(self) -> str:
        return new_sid("CA")

    def stream_sid(self) -> str:
        return new_sid("MZ")

    def media_format(self, codec: str | None) -> MediaFormat | None:
        """What `<Stream codec=…>` (None: no attribute) streams; None: refused. Twilio's
        `<Stream>` has no codec: always µ-law 8 kHz."""
        return ENCODING, SAMPLE_RATE

    # ---- the stream's messages: the carrier's side, and how it reads ours ----------------

    def connected(self) -> dict[str, Any]:
        return self.wire.carrier_connected()

    def start(
        self,
        seq: str,
        stream_sid: str,
        *,
        account_sid: str,
        call_sid: str,
        parameters: dict[str, str],
        media_format: MediaFormat,
    ) -> dict[str, Any]:
        encoding, sample_rate = media_format
        return self.wire.carrier_start(
            seq,
            stream_sid,
            account_sid=account_sid,
            call_sid=call_sid,
            parameters=parameters,
            encoding=encoding,
            sample_rate=sample_rate,
        )

    def media(
        self, seq: str, stream_sid: str, *, chunk: str, timestamp: str, payload: str
    ) -> dict[str, Any]:
        return self.wire.carrier_media(
            seq, stream_sid, chunk=chunk, timestamp=timestamp, payload=payload
        )

    def mark(self, seq: str, stream_sid: str, name: str) -> dict[str, Any]:
        return self.wire.carrier_mark(seq, stream_sid, name)

    def dtmf(self, seq: str, stream_sid: str, digit: str) -> dict[str, Any]:
        return self.wire.carrier_dtmf(seq, stream_sid, digit)

    def stop(self, seq: str, stream_sid: str, *, account_sid: str, call_sid: str) -> dict[str, Any]:
        return self.wire.carrier_stop(seq, stream_sid, account_sid=account_sid, call_sid=call_sid)

    def read_ours(self, message: dict[str, Any], stream_sid: str | None) -> Ours:
        """One message from our server as the carrier uses it; StreamProtocolError if it
        cannot (the carrier ignores it)."""
        return self.wire.read_ours(message, stream_sid)


TWILIO = Dialect()
