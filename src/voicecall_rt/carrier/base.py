"""What any phone carrier does, in carrier-neutral terms (docs/design.md §3).

A carrier is three things, each an interface here and one set of files per carrier
(`carrier/twilio/` today):

- its REST API: place a call, hang it up (`CarrierApi`);
- its webhooks: verify a request, read it as a neutral event (`CallAnswered`, `InboundCall`,
  `StatusChanged`, `MachineVerdict`), and render the call manager's neutral `Decision`
  (connect the media stream with a token, reject, say "busy", hang up) in the carrier's
  own answer format (`CarrierWebhooks`);
- its media stream's wire format: read the stream's start and each caller frame (audio, a
  mark played, a key pressed, stop) and write audio, marks and `clear` (`StreamCodec`,
  `StreamWriter`).

The call manager decides, the carrier renders; the bridge never sees carrier JSON.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from voicecall_rt.call.records import CallStatus

# ---- REST ---------------------------------------------------------------------------------


class CarrierError(Exception):
    """The carrier refused or could not be reached; the message is safe to show."""

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class OutboundRequest:
    to: str
    from_: str
    answer_url: str
    status_url: str
    ring_timeout_s: int
    time_limit_s: int
    amd_url: str | None  # None: no answering-machine detection


class CarrierApi(Protocol):
    """The carrier's REST side, for the call manager."""

    async def create_call(self, request: OutboundRequest) -> str:
        """Dial; returns the carrier's id for the call. Raises CarrierError."""
        ...

    async def hang_up(self, call_sid: str) -> None:
        """End the call whatever state it is in. Raises CarrierError."""
        ...


# ---- webhooks: what the carrier tells us ---------------------------------------------------


class Answerer(enum.Enum):
    """Who (or what) answered, from the carrier's answering-machine detection."""

    HUMAN = "human"
    MACHINE_GREETING = "machine-greeting"  # a machine, still playing its greeting
    MACHINE_DONE = "machine-done"  # a machine whose greeting (and beep) is over
    FAX = "fax"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class CallAnswered:
    """The callee of an outbound call picked up; the carrier asks what to do."""

    call_sid: str


@dataclass(frozen=True)
class InboundCall:
    """Someone called our number; the carrier asks what to do."""

    call_sid: str
    from_number: str
    to_number: str


@dataclass(frozen=True)
class StatusChanged:
    """The carrier's call status moved; `status` is None for a value we do not know."""

    call_sid: str
    status: CallStatus | None
    raw: str


@dataclass(frozen=True)
class MachineVerdict:
    """The answering-machine verdict, neutral (`answerer`) and in the carrier's words."""

    call_sid: str
    answerer: Answerer
    raw: str
    duration_ms: int | None


# ---- webhooks: what the call manager decides -----------------------------------------------


@dataclass(frozen=True)
class Connect:
    """Bridge the call's audio to our media WebSocket; `token` admits the stream once."""

    stream_url: str
    token: str


@dataclass(frozen=True)
class Reject:
    """Refuse the call without answering it."""


@dataclass(frozen=True)
class Busy:
    """Answer, say `message`, hang up."""

    message: str


@dataclass(frozen=True)
class HangUp:
    """Answer nothing: end the call."""


Decision = Connect | Reject | Busy | HangUp

# Marks our answer to the health probe `status` sends through the tunnel (a GET of the
# answer URL, answered with the carrier's rendering of `HangUp`).
HEALTH_HEADER = "X-Voicecall-Rt"


@dataclass(frozen=True)
class WebhookRequest:
    """A webhook as received, framework-free: the URL the carrier signed (our public URL
    and the request's path and query), its headers and its form fields."""

    url: str
    headers: Mapping[str, str]
    form: Mapping[str, str]
    query: Mapping[str, str] = field(default_factory=dict)
    method: str = "POST"


class CarrierWebhooks(Protocol):
    """The carrier's webhooks, for the web layer and the call manager."""

    content_type: str  # of the rendered answer

    def verify(self, request: WebhookRequest) -> bool:
        """Whether the carrier signed this request (checked before anything else)."""
        ...

    def answer_event(self, request: WebhookRequest) -> CallAnswered | InboundCall:
        """The answer webhook, read."""
        ...

    def status_event(self, request: WebhookRequest) -> StatusChanged:
        """The status webhook, read."""
        ...

    def machine_event(self, request: WebhookRequest) -> MachineVerdict:
        """The answering-machine webhook, read."""
        ...

    def render(self, decision: Decision) -> str:
        """The answer document carrying `decision`."""
        ...


# ---- the media stream ------------------------------------------------------------------------


class StreamProtocolError(ValueError):
    """A stream message we cannot accept (a bad start, a bad stream id)."""


@dataclass(frozen=True, slots=True)
class StreamStart:
    """The stream's first real message, read: which stream, which call, which token."""

    stream_id: str
    call_sid: str
    token: str
    custom: Mapping[str, str]  # every parameter the answer document passed along


class Frame(enum.IntEnum):
    """What a caller frame is (the relay's hot path switches on these)."""

    MEDIA = 0  # value: the base64 µ-law payload, forwarded as is
    MARK = 1  # value: the name of a mark that has played
    KEYPAD = 2  # value: the key the caller pressed
    STOP = 3  # the carrier ends the stream
    SKIP = 4  # a message with nothing for us (not an error)
    BAD = 5  # malformed


class StreamWriter(Protocol):
    """The messages we send on one stream, built around the payload without a decode."""

    clear: str  # drop the audio queued at the carrier

    def media(self, payload: str) -> str: ...

    def mark(self, name: str) -> str: ...


class StreamCodec(Protocol):
    """One carrier's media-stream wire format, server side."""

    def read_start(self, data: str | bytes) -> StreamStart | None:
        """Read one message before the start: the start itself, or None for a message to
        skip (a greeting such as Twilio's `connected`). Raises StreamProtocolError for
        anything else."""
        ...

    def read(self, data: str | bytes) -> tuple[Frame, str]:
        """One caller frame: what it is, and its value (see `Frame`)."""
        ...

    def frame_ms(self, data: str | bytes) -> int | None:
        """Where a caller media frame belongs on the stream's clock (ms since the stream
        started), if the carrier stamps it. For debug recordings: never on the hot path."""
        ...

    def writer(self, start: StreamStart) -> StreamWriter: ...


@dataclass(frozen=True)
class AccountCheck:
    """One line of `voicecall-rt status` about the carrier account: the credentials work,
    the account is active, the number we call from is the account's."""

    name: str
    ok: bool
    detail: str
