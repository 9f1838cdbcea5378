"""The model session a call talks to, whatever is behind it (docs/design.md §3).

A backend opens sessions (`ModelBackend.open`): connected, configured and confirmed, or an
exception (`SessionRefused`: the service said no; `ModelConnectError`: it could not be had).
The call drives a session through `ModelSession` — caller audio in, control out — and hears
from it through `ModelListener`, in the order the service spoke. OpenAI's Realtime API is
the backend today (`model/session.py`, `model/events.py`, `model/realtime.py`); another API
surface or vendor is new files implementing these two interfaces.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from voicecall_rt.call.history import Entry


class ModelConnectError(Exception):
    """No session could be opened (or kept): unreachable, refused, or timed out."""


class SessionRefused(ModelConnectError):
    """The service refused the session or its configuration: retrying would not help."""


@dataclass(frozen=True)
class ToolCall:
    call_id: str
    name: str
    arguments: str  # JSON text, as the model wrote it


@dataclass(frozen=True)
class ResponseEnd:
    """A response is over: `completed`, `cancelled`, `incomplete` or `failed`."""

    response_id: str | None
    status: str
    reason: str | None = None  # why it was cancelled or incomplete
    error_code: str | None = None  # why it failed
    error_text: str = ""
    fatal: bool = False  # an account error: no retry or new session can help
    tool_calls: Sequence[ToolCall] = ()


@dataclass(frozen=True)
class ModelError:
    """An error the service reported, with the client event it answers (if known)."""

    code: str | None
    type: str | None
    message: str | None
    text: str  # one line for people, never a secret
    client_event: dict[str, Any] | None = None
    fatal: bool = False
    expired: bool = False  # the session reached its maximum duration; its close follows
    routine: bool = False  # a race with a response that just ended: nothing to report


class AudioSink(Protocol):
    """Where the model's audio goes (the call's relay)."""

    def audio_now(self, item_id: object, response_id: object, delta: object) -> bool | None:
        """An audio delta, offered straight from the socket when nothing waits before it:
        True if relayed, False if dropped, None if it cannot go now (it is then queued and
        comes back through `on_audio`, in order)."""
        ...

    async def on_audio(self, item_id: object, response_id: object, delta: object) -> bool:
        """An audio delta that waited its turn: True if relayed, False if dropped."""
        ...


class ModelTap(Protocol):
    """What a debug recording sees of the model side (call/recording.py): every message,
    in the backend's own shape, audio as a byte count."""

    def to_model(self, event: dict[str, Any]) -> None:
        """A control event sent."""
        ...

    def to_model_audio(self, text: str) -> None:
        """Caller audio sent: the message that carried it, as sent."""
        ...

    def from_model(self, event: dict[str, Any]) -> None:
        """An event received (not an audio delta)."""
        ...

    def from_model_text(self, data: object) -> None:
        """A message received before the session was handed on, as it came."""
        ...

    def from_model_audio(self, event: dict[str, Any], forwarded: bool) -> None:
        """An audio delta received, its payload as a byte count, once the call has relayed
        (`forwarded`) or dropped it."""
        ...


class ModelListener(Protocol):
    """What the call does with what the model says (handlers run one at a time, in order)."""

    async def on_speech_started(self, item_id: str | None) -> None: ...

    async def on_speech_stopped(self) -> None: ...

    async def on_committed(self) -> None: ...

    async def on_caller_text(self, item_id: str | None, text: str) -> None: ...

    async def on_caller_inaudible(self, item_id: str | None, error: str) -> None: ...

    async def on_assistant_text(self, item_id: str, text: str) -> None: ...

    async def on_response_started(self, response_id: str | None) -> None: ...

    async def on_response_done(self, end: ResponseEnd) -> None: ...

    async def on_rate_limits(self, limits: list[Any]) -> None: ...

    async def on_error(self, error: ModelError) -> None: ...

    def on_backlog(self, waiting: int) -> None:
        """The service's messages pile up: its socket is not read until the call catches up."""
        ...

    def on_bad_event(self, error: str) -> None:
        """A server event that could not be read (it is skipped; the call goes on)."""
        ...


class ModelSession(Protocol):
    """One confirmed session. Senders are no-ops once it is closed, unless said otherwise."""

    session_id: str
    lifetime_s: float | None  # seconds until the service ends it; None if unknown
    connect_ms: int

    @property
    def closed(self) -> bool: ...

    def listen(
        self, listener: ModelListener, audio: AudioSink, on_closed: Callable[[], None]
    ) -> None:
        """Deliver audio to `audio` and events to `listener` from now on (those that came
        early first); `on_closed` runs when the session's connection is gone."""
        ...

    async def run(self) -> None:
        """Hand events to the listener, one at a time, until the session is gone."""
        ...

    def append_audio(self, payload: str, frame: str) -> None:
        """Caller audio (base64 µ-law) — the hot path. Raises ConnectionError if closed."""
        ...

    def truncate(self, item_id: str, audio_end_ms: int) -> None: ...

    def tool_result(self, call_id: str, output: str) -> None:
        """Put a tool's result (its JSON text) into the conversation."""
        ...

    def respond(self) -> None: ...

    def cancel_response(self) -> None: ...

    def user_text(self, text: str) -> None: ...

    def system_text(self, text: str) -> None: ...

    def listen_only(self) -> None:
        """Stop answering the caller's turns (recording a voicemail)."""
        ...

    def replay(self, entries: Sequence[Entry]) -> int:
        """Give a fresh session the conversation so far; returns how many items."""
        ...

    def detach(self) -> None:
        """Stop delivering events (a replaced session's last words reach nobody)."""
        ...

    async def close(self) -> None: ...


class ModelBackend(Protocol):
    """Opens sessions configured for one call (its instructions, voice, tools), and adds
    up what they used (`usage`: the figures `pricing.py` prices), across renewals."""

    usage: dict[str, Any]

    async def open(self, on_retry: Callable[[int, str], None]) -> ModelSession: ...
