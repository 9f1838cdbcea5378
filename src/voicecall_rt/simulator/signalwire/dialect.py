"""SignalWire's dialect of the fake Twilio: the Compatibility API and cXML as SignalWire
documents them where they differ from Twilio's (docs/protocols.md §8).

* REST under `/api/laml/2010-04-01/Accounts/{ProjectID}`, Basic `ProjectID:APIToken`; the
  create call has no `TimeLimit` (its spec, `CreateCallRequest`), so one sent is ignored.
* Webhooks signed with the project's Signing Key, not the API token, in
  `X-SignalWire-Signature` (its "Webhook security" guide). The stream's upgrade carries no
  signature (its `<Stream>` page lists the upgrade's headers: none is one).
* Ids are UUIDs: the project, the call, the stream.
* `<Stream url>` with a query string opens no stream ("The url does not support query
  string parameters"; the fake refuses it as `invalid_url`); `codec` is `PCMU@8000h` by
  default, `L16@16000h` or `L16@24000h` stream linear PCM instead (its `start` says so), any
  other value is a `codec_error`.
* The stream's messages are `carrier.signalwire.wire`'s: `connected` 0.2.0, no top-level
  `streamSid` on `start` or `media`, a bare `stop`, and our `dtmf` message presses a key on
  the call (the far party hears it: `SimCall.heard_digits`).
"""

from __future__ import annotations

import uuid
from typing import ClassVar, Final

from voicecall_rt.carrier.signalwire import wire as signalwire_wire
from voicecall_rt.carrier.signalwire.webhooks import SIGNATURE_HEADER
from voicecall_rt.carrier.twilio.wire import ENCODING, SAMPLE_RATE
from voicecall_rt.simulator.twilio.dialect import CarrierWire, Dialect, MediaFormat

__all__ = ["SIGNALWIRE", "SignalWireDialect"]

# `<Stream codec>` → `start.mediaFormat` (its "Supported codecs" and Start message tables).
CODECS: Final[dict[str | None, MediaFormat]] = {
    None: (ENCODING, SAMPLE_RATE),
    "PCMU@8000h": (ENCODING, SAMPLE_RATE),
    "L16@16000h": ("audio/x-L16", 16000),
    "L16@24000h": ("audio/x-L16", 24000),
}


class SignalWireDialect(Dialect):
    """SignalWire's Compatibility API (see the module's docstring)."""

    name = "SignalWire"
    rest_prefix = "/api/laml"
    signature_header = SIGNATURE_HEADER
    takes_time_limit = False
    refuses_stream_query = True
    signs_stream_upgrade = False
    wire: ClassVar[CarrierWire] = signalwire_wire

    def call_sid(self) -> str:
        return str(uuid.uuid4())

    def stream_sid(self) -> str:
        return str(uuid.uuid4())

    def media_format(self, codec: str | None) -> MediaFormat | None:
        return CODECS.get(codec)


SIGNALWIRE = SignalWireDialect()
