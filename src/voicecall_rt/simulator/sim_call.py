"""One simulated call, as a fake carrier and the far party see it, and what it records.

Carrier-neutral: the fake carrier (`simulator.twilio`) creates a `SimCall`, drives its
lifecycle through the methods below and attaches a media stream (`MediaLeg`); tests read the
records and wait on them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal, Protocol

from voicecall_rt.audio import dtmf
from voicecall_rt.simulator.scenario import CallPlan

__all__ = [
    "FINAL_STATUSES",
    "CallConfig",
    "CallDirection",
    "MarkEcho",
    "MediaLeg",
    "Notification",
    "SentWebhook",
    "SimCall",
    "TransferDial",
    "WebhookKind",
]

BYTES_PER_MS: Final = 8  # 8 kHz µ-law
FINAL_STATUSES: Final = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})

CallDirection = Literal["outbound-api", "inbound"]
WebhookKind = Literal["voice", "action", "status", "amd", "stream-status"]


def now() -> datetime:
    return datetime.now(UTC)


# ---- records ---------------------------------------------------------------------------------


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
    # Twilio's `X-Twilio-Webhooks-Signature-Settings` when signed with a SharedKey, else None
    signature_settings: str | None = None


@dataclass(frozen=True)
class MarkEcho:
    """A `mark` echoed back to our server, with what had played when it was echoed."""

    name: str
    played_bytes: int
    stream_ms: int  # stream clock (ms since `start`) at the echo
    cleared: bool  # echoed because of a `clear`, not because its audio played


@dataclass(frozen=True)
class TransferDial:
    """The carrier dialled a transfer's target from the call: to whom, showing which caller
    ID, and how much of our server's audio had played to the far party by then."""

    number: str
    caller_id: str
    played_bytes: int


@dataclass(frozen=True)
class Notification:
    """An error the carrier would log for the call (Twilio's debugger / Notifications)."""

    code: int
    message: str


@dataclass
class CallConfig:
    """How our server asked the carrier to run the call (URLs, callbacks, limits, AMD)."""

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


class MediaLeg(Protocol):
    """The call's media stream, as the call sees it."""

    @property
    def started(self) -> bool: ...

    @property
    def closed(self) -> asyncio.Event: ...

    @property
    def queued_bytes(self) -> int: ...

    @property
    def stream_ms(self) -> int: ...

    async def send_dtmf(self, digit: str) -> None: ...

    async def shutdown(self) -> None: ...


# ---- the call --------------------------------------------------------------------------------


class SimCall:
    """One simulated call, as the carrier and the far party see it.

    Lists grow as things happen; `wait_for(predicate)` wakes on every change (including every
    20 ms media tick while a stream is up). `ended` is set once the call is over *and* the
    stream is closed and every webhook for it has been delivered.
    """

    def __init__(
        self,
        *,
        sid: str,
        to: str,
        from_: str,
        direction: CallDirection,
        plan: CallPlan,
        config: CallConfig,
        create_params: dict[str, list[str]],
        end: Callable[[SimCall, str], Awaitable[None]],
    ) -> None:
        """`end(call, final)`: how the carrier ends the call when the far party hangs up."""
        self.sid = sid
        self.to = to
        self.from_ = from_
        self.direction: CallDirection = direction
        self.plan = plan
        self.config = config
        self.create_params = create_params
        self.date_created = now()
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
        # Each REST hang-up from our server that reached the call, as the status it asked
        # for (`completed`, or `canceled` for a dial cancelled before answer): one record
        # whatever the carrier's REST shape, so a test reads them alike on every carrier.
        self.rest_hang_ups: list[str] = []
        # Each transfer the carrier carried out (TwiML `<Dial>`, Telnyx's `transfer`,
        # Plivo's Transfer Call): one record whatever the carrier's shape, as rest_hang_ups.
        self.transfers: list[TransferDial] = []
        # media stream (the latest one, if the call was redirected)
        self.stream_sid: str | None = None
        self.stream_url: str | None = None
        # the `<Stream url>` as our server wrote it, when Twilio would not use it as it is
        self.stream_url_requested: str | None = None
        self.start_message: dict[str, Any] | None = None
        self.received: list[dict[str, Any]] = []
        self.protocol_errors: list[str] = []
        self.played_audio = bytearray()
        # Keypad tones the carrier itself plays to the far party (a REST DTMF command that
        # sounds on the line): none of our server's audio, so not in played_audio.
        self.line_audio = bytearray()
        self.marks_echoed: list[str] = []
        self.mark_echoes: list[MarkEcho] = []
        self.clears: list[int] = []
        # Each mark a clear dropped, with what had played at the clear, whether or not the
        # carrier echoes it (Plivo never answers a cleared checkpoint).
        self.cleared_marks: list[MarkEcho] = []
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
        self.media_stopped = False  # stop_media(): no inbound frames for now
        # The carrier's machinery for this call (set by the fake carrier).
        self.stream: MediaLeg | None = None
        self.runner: asyncio.Task[None] | None = None  # the TwiML (or dialling) being run
        self.teardown: asyncio.Task[None] | None = None
        self.time_limit: asyncio.Task[None] | None = None
        self.amd: asyncio.Task[None] | None = None
        self.stay_up = False  # the stream ended by our server: lenient carriers stay up
        self._end = end
        self._cond = asyncio.Condition()
        self._answered_at: float | None = None
        self._ended_at: float | None = None

    # -- state ----------------------------------------------------------------------------

    @property
    def answered(self) -> bool:
        return self._answered_at is not None

    @property
    def answered_at(self) -> float | None:
        """Loop time of the answer (None before it)."""
        return self._answered_at

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
        stream = self.stream
        return stream.queued_bytes if stream is not None and not stream.closed.is_set() else 0

    @property
    def stream_ms(self) -> int:
        """The stream clock: ms since `start` of the latest stream, in whole 20 ms ticks."""
        stream = self.stream
        return stream.stream_ms if stream is not None else 0

    @property
    def streaming(self) -> bool:
        stream = self.stream
        return stream is not None and stream.started and not stream.closed.is_set()

    @property
    def duration_s(self) -> int:
        if self.start_time is None:
            return 0
        end = self.end_time or now()
        return max(0, round((end - self.start_time).total_seconds()))

    # -- the carrier moves it on -----------------------------------------------------------

    async def set_status(self, status: str) -> None:
        """A status on the way (ignored once the call is over)."""
        if self.is_final:
            return
        self.status = status
        self.statuses.append(status)
        await self.changed()

    def mark_answered(self) -> None:
        self._answered_at = asyncio.get_running_loop().time()
        self.start_time = now()

    def mark_ended(self, final: str) -> None:
        self.status = final
        self.statuses.append(final)
        self.end_time = now()
        self._ended_at = asyncio.get_running_loop().time()

    # -- waiting ----------------------------------------------------------------------------

    async def changed(self) -> None:
        """Wake whoever waits on the call (`wait_for`)."""
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
        await self._end(self, final)

    def stop_media(self) -> None:
        """Stop sending inbound media frames without hanging up (a zombie stream)."""
        self.media_stopped = True

    def resume_media(self) -> None:
        self.media_stopped = False

    async def send_dtmf_event(self, digit: str) -> None:
        """The far party presses a key: a `dtmf` message on the stream."""
        if digit not in dtmf.FREQUENCIES:
            raise ValueError(f"not a DTMF key: {digit!r}")
        stream = self.stream
        if stream is None or not stream.started or stream.closed.is_set():
            raise RuntimeError("no live media stream on this call")
        await stream.send_dtmf(digit)
