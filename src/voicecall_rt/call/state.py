"""A call's state, in one place, as enums with the transitions they allow.

Free of I/O and of the clock, so its rules are tested without sockets
(tests/unit/test_call_state.py). The relay and the conversation read it and move it only
through these methods; an illegal move raises `IllegalTransition` (a bug, not a call
event).
"""

from __future__ import annotations

import enum


class IllegalTransition(RuntimeError):
    """A state change the call's rules do not allow."""


class Model(enum.Enum):
    """The model session under the call."""

    OPENING = "opening"  # the first session is being opened (pre-warm)
    READY = "ready"  # confirmed: caller audio goes straight to it
    LOST = "lost"  # gone under a live call: caller audio waits for the next one
    ENDED = "ended"


class Response(enum.Enum):
    IDLE = "idle"
    ACTIVE = "active"  # the model is producing a response


class Voicemail(enum.Enum):
    NONE = "none"
    PENDING = "pending"  # a machine's beep: stopping what was being said
    REQUESTED = "requested"  # the message has been asked for
    SPEAKING = "speaking"  # its response has started


class Ending(enum.Enum):
    LIVE = "live"
    CLOSING = "closing"  # end_call accepted (or the voicemail said): the goodbye plays out
    ENDED = "ended"


class Caller(enum.Enum):
    SILENT = "silent"  # nobody has spoken yet (outbound listens first)
    SPEAKING = "speaking"
    LISTENING = "listening"  # has spoken, is not speaking now


_MODEL_MOVES = {
    Model.OPENING: {Model.READY, Model.ENDED},
    Model.READY: {Model.LOST, Model.ENDED, Model.READY},  # READY→READY: renewed ahead
    Model.LOST: {Model.READY, Model.ENDED},
    Model.ENDED: set(),
}
_VOICEMAIL_MOVES = {
    Voicemail.NONE: {Voicemail.PENDING},
    Voicemail.PENDING: {Voicemail.REQUESTED},
    Voicemail.REQUESTED: {Voicemail.SPEAKING},
    Voicemail.SPEAKING: set(),
}


class CallState:
    """Where one call stands. `greeting_owed`: inbound calls speak first."""

    __slots__ = (
        "caller",
        "ending",
        "greeting_owed",
        "model",
        "response",
        "response_id",
        "voicemail",
    )

    def __init__(self, *, greeting_owed: bool) -> None:
        self.model = Model.OPENING
        self.response = Response.IDLE
        self.response_id: str | None = None
        self.voicemail = Voicemail.NONE
        self.ending = Ending.LIVE
        self.caller = Caller.SILENT
        self.greeting_owed = greeting_owed

    # ---- the model session ------------------------------------------------------------------

    def model_to(self, new: Model) -> None:
        """Move the model state; once the call has ended nothing moves it (late callbacks
        of closing sockets are expected)."""
        if self.model is Model.ENDED or (new is self.model and new is not Model.READY):
            return
        if new not in _MODEL_MOVES[self.model]:
            raise IllegalTransition(f"model {self.model.value} → {new.value}")
        self.model = new

    @property
    def model_ready(self) -> bool:
        return self.model is Model.READY

    def session_gone(self) -> None:
        """A session ended under the call: what it was doing will never finish there."""
        self.model_to(Model.LOST)
        self.response, self.response_id = Response.IDLE, None

    # ---- responses --------------------------------------------------------------------------

    def response_started(self, response_id: str | None) -> None:
        self.response, self.response_id = Response.ACTIVE, response_id
        if self.voicemail is Voicemail.REQUESTED:
            self.voicemail = Voicemail.SPEAKING

    def response_finished(self) -> None:
        self.response, self.response_id = Response.IDLE, None

    @property
    def responding(self) -> bool:
        return self.response is Response.ACTIVE

    # ---- the caller -------------------------------------------------------------------------

    def caller_started(self) -> None:
        self.caller = Caller.SPEAKING

    def caller_stopped(self) -> None:
        if self.caller is Caller.SPEAKING:
            self.caller = Caller.LISTENING

    def machine_answered(self) -> None:
        """A machine answered: it counts as having spoken (no nudge, no silent hang-up)."""
        if self.caller is Caller.SILENT:
            self.caller = Caller.LISTENING

    @property
    def caller_speaking(self) -> bool:
        return self.caller is Caller.SPEAKING

    @property
    def caller_spoke(self) -> bool:
        return self.caller is not Caller.SILENT

    # ---- voicemail and the end ----------------------------------------------------------------

    def voicemail_to(self, new: Voicemail) -> None:
        if new not in _VOICEMAIL_MOVES[self.voicemail]:
            raise IllegalTransition(f"voicemail {self.voicemail.value} → {new.value}")
        self.voicemail = new

    @property
    def leaving_voicemail(self) -> bool:
        return self.voicemail is not Voicemail.NONE

    def close(self) -> bool:
        """Start the goodbye; False if it was already under way (or the call is over)."""
        if self.ending is not Ending.LIVE:
            return False
        self.ending = Ending.CLOSING
        return True

    @property
    def closing(self) -> bool:
        return self.ending is not Ending.LIVE

    def end(self) -> bool:
        """The call ends; False if it had already."""
        if self.ending is Ending.ENDED:
            return False
        self.ending = Ending.ENDED
        self.model = Model.ENDED
        return True

    @property
    def ended(self) -> bool:
        return self.ending is Ending.ENDED

    # ---- rules ----------------------------------------------------------------------------------

    def may_cut_playback(self, tones_playing: bool) -> bool:
        """Barge-in: the caller's voice stops the model's — never a goodbye, keypad tones
        being sent, or a voicemail being left."""
        return not (self.closing or tones_playing or self.leaving_voicemail)

    def quiet(self, *, audio_queued: bool, work_pending: bool) -> bool:
        """A moment to switch sessions: nobody speaking and nothing under way."""
        return not (self.responding or self.caller_speaking or audio_queued or work_pending)
