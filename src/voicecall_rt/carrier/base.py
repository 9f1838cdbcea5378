"""What any phone carrier does, in carrier-neutral terms (docs/design.md §3).

A carrier is three things, each an interface here and one set of files per carrier
(`carrier/<name>/`):

- its REST API: place a call (the media stream requested in the dial itself where the
  carrier works that way), hang it up, press keys, transfer it to a person (`CarrierApi`);
- its webhooks: verify a request, read it as a neutral event (`CallAnswered`, `InboundCall`,
  `StatusChanged`, `MachineVerdict`, `TransferLegEnded`), and carry out the call manager's
  neutral `Decision` (connect the media stream with a token, let a dialled stream proceed,
  reject, say "busy", hang up): rendered in the carrier's answer document, or done by REST
  action where the carrier has no document (`CarrierWebhooks`);
- its media stream's wire format: read the stream's start and each caller frame (audio, a
  mark played, a key pressed, stop) and write audio, marks, `clear` and, where the stream
  can carry them, keypad tones (`StreamCodec`, `StreamWriter`).

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
    # The media stream, for a carrier that requests it in the dial (`streams_at_dial`);
    # None for the others, whose answer webhook gets a `Connect` instead.
    stream: Connect | None = None


@dataclass(frozen=True)
class Transfer:
    """Connect the other side of a live call to `number` (one of `calls.transfer.targets`),
    showing `caller_id`; our media stream ends there. `document_url`: where our server
    serves the document that dials it, for a carrier that fetches one (Plivo). `call_id`:
    ours, for a carrier that tags the legs of the transfer with it, so that their events
    name the call (`TransferLegEnded`)."""

    number: str
    caller_id: str
    document_url: str
    call_id: str = ""


class CarrierApi(Protocol):
    """The carrier's REST side, for the call manager."""

    # True: the dial itself requests the media stream (`OutboundRequest.stream`), and the
    # outbound call's answer webhook is told to `Proceed`.
    streams_at_dial: bool

    async def create_call(self, request: OutboundRequest) -> str:
        """Dial; returns the carrier's id for the call (or for the dial request, until the
        call has one: see `CallAnswered.dial_id`). Raises CarrierError."""
        ...

    async def hang_up(self, call_sid: str) -> None:
        """End the call whatever state it is in (cancel it if it is only a dial request);
        a call already over counts as hung up. Raises CarrierError."""
        ...

    async def send_digits(self, call_sid: str, digits: str) -> bool:
        """Have the carrier itself press `digits` on the call, keeping the media stream up:
        True once it accepted them, False if it has no such command (then keypad tones go
        in-band, or as a stream message: `StreamWriter.keypad`). Raises CarrierError."""
        ...

    async def transfer(self, call_sid: str, transfer: Transfer) -> None:
        """Have the carrier connect the live call's other side to `transfer.number` (our
        media stream ends); returns once the carrier accepted it. Raises CarrierError."""
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
    """The callee of an outbound call picked up; the carrier asks what to do.

    `dial_id`: the id `create_call` returned, where the carrier names the call otherwise
    once it exists (Plivo's request uuid); "" where both are the same."""

    call_sid: str
    dial_id: str = ""


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
    dial_id: str = ""  # as in `CallAnswered`


@dataclass(frozen=True)
class MachineVerdict:
    """The answering-machine verdict, neutral (`answerer`) and in the carrier's words."""

    call_sid: str
    answerer: Answerer
    raw: str
    duration_ms: int | None
    dial_id: str = ""  # as in `CallAnswered`


@dataclass(frozen=True)
class TransferLegEnded:
    """A leg of a transfer we asked for ended, where the carrier leaves the caller's side
    of the call up after it (Telnyx): the person dialled never answered, or hung up after
    the conversation. `call_id` is ours, read back from the tag we gave the transfer (it
    names the call and nothing more: which leg ended is `call_sid`, the carrier's id for
    it); `status` how it ended (`completed` after a conversation; None for a value we do
    not know); `raw` the carrier's word for it."""

    call_id: str
    call_sid: str
    status: CallStatus | None
    raw: str


CarrierEvent = CallAnswered | InboundCall | StatusChanged | MachineVerdict | TransferLegEnded


# ---- webhooks: what the call manager decides -----------------------------------------------


@dataclass(frozen=True)
class Connect:
    """Bridge the call's audio to our media WebSocket; `token` admits the stream once."""

    stream_url: str
    token: str


@dataclass(frozen=True)
class Proceed:
    """Let an outbound call go on as dialled: its stream was requested in the dial."""


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


@dataclass(frozen=True)
class Dial:
    """Connect the call to `number`, showing `caller_id`: the document a carrier fetches
    to carry out a transfer (`Transfer.document_url`)."""

    number: str
    caller_id: str


Decision = Connect | Proceed | Reject | Busy | HangUp | Dial

# Marks our answer to the health probe `status` sends through the tunnel (a GET of the
# answer URL, answered with the carrier's rendering of `HangUp`).
HEALTH_HEADER = "X-Voicecall-Rt"


@dataclass(frozen=True)
class WebhookRequest:
    """A webhook as received, framework-free: the URL the carrier signed (our public URL
    and the request's path and query), its headers, its raw body and, for a form post, its
    form fields."""

    url: str
    headers: Mapping[str, str]
    form: Mapping[str, str]
    query: Mapping[str, str] = field(default_factory=dict)
    method: str = "POST"
    body: bytes = b""


class WebhookKind(enum.Enum):
    """Which of our webhook URLs was called (a carrier that posts every event to one URL
    reads the event's own type instead)."""

    ANSWER = "answer"
    STATUS = "status"
    AMD = "amd"


@dataclass(frozen=True)
class Reply:
    """The HTTP answer to a webhook."""

    body: str
    content_type: str
    status: int = 200


class CarrierWebhooks(Protocol):
    """The carrier's webhooks, for the web layer and the call manager."""

    def verify(self, request: WebhookRequest) -> bool:
        """Whether the carrier signed this request (checked before anything else)."""
        ...

    def read(self, kind: WebhookKind, request: WebhookRequest) -> CarrierEvent | None:
        """The webhook as a neutral event; None for one that means nothing to us."""
        ...

    async def respond(self, event: CallAnswered | InboundCall, decision: Decision) -> Reply:
        """Carry out `decision` for the call `event` is about: render it as the answer
        document, or act on it by REST where the carrier has no document."""
        ...

    def health(self) -> Reply:
        """The answer to `status`'s probe through the tunnel: harmless if a carrier ever
        fetched it (it would hang up)."""
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

    def keypad(self, digits: str) -> str | None:
        """A message that has the carrier play `digits` as keypad tones, or None where
        the stream cannot carry one."""
        ...


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
