"""What a call is, in storage and over the local API: statuses, the call row, outcome, lines."""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field


class CallStatus(StrEnum):
    """A call's status, in Twilio's vocabulary (every carrier's is mapped to it), plus
    `initiating` (ours: before the carrier accepted the call)."""

    INITIATING = "initiating"
    QUEUED = "queued"
    RINGING = "ringing"
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    BUSY = "busy"
    FAILED = "failed"
    NO_ANSWER = "no-answer"
    CANCELED = "canceled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset(
    {
        CallStatus.COMPLETED,
        CallStatus.BUSY,
        CallStatus.FAILED,
        CallStatus.NO_ANSWER,
        CallStatus.CANCELED,
    }
)

Direction = Literal["outbound", "inbound"]
Role = Literal["caller", "assistant", "system"]


# The end reason of a call hung up because someone asked (the API, the CLI, a tool).
HUNG_UP_ON_REQUEST: Final = "hangup-requested"


def now_ms() -> int:
    """Wall-clock milliseconds since the epoch (what we store)."""
    return time.time_ns() // 1_000_000


class Outcome(BaseModel):
    """What the model reported about the call's goal (`report_outcome`)."""

    model_config = ConfigDict(extra="forbid")

    success: bool
    summary: str = Field(max_length=2000)
    details: dict[str, Any] = Field(default_factory=dict)
    # The transfer target's label when the call ended transferred to a person (ours, never
    # the model's: docs/business.md §Transfer to a person). Absent rather than null
    # otherwise: an outcome shaped by the caller's output schema keeps that shape.
    transferred_to: str | None = Field(default=None, exclude_if=lambda label: label is None)


class CallRecord(BaseModel):
    """One call as stored. Times are epoch milliseconds."""

    model_config = ConfigDict(extra="forbid")

    id: str
    direction: Direction
    from_number: str
    to_number: str
    task: str = ""
    system_prompt: str | None = None
    status: CallStatus = CallStatus.INITIATING
    carrier_sid: str | None = None
    created_at: int = Field(default_factory=now_ms)
    answered_at: int | None = None
    ended_at: int | None = None
    end_reason: str | None = None
    answered_by: str | None = None
    amd_duration_ms: int | None = None
    outcome: Outcome | None = None
    usage: dict[str, Any] | None = None
    error: str | None = None
    # Passed through to the notify webhook (OpenClaw's `sessionKey`); not used otherwise.
    notify_session_key: str | None = None
    # The JSON Schema the outcome's details must follow (docs/outcomes.md); None: free-form.
    outcome_schema: dict[str, Any] | None = None
    # The carrier that carried the call (`carrier` in the config); None: stored before there
    # was a choice (Twilio).
    carrier: str | None = None
    # A scheduled call or one with retries (docs/business.md): its schedule, and which
    # attempt of it this call is (1 = the first). None: a call placed once, at once.
    schedule_id: str | None = None
    attempt: int | None = Field(default=None, ge=1)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def duration_s(self) -> float | None:
        """Seconds from answer to end (so far, while live); None if never answered."""
        if self.answered_at is None:
            return None
        end = self.ended_at if self.ended_at is not None else now_ms()
        return max(0.0, (end - self.answered_at) / 1000)


class TranscriptLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    call_id: str
    seq: int
    t_ms: int  # milliseconds since the call record was created
    role: Role
    text: str
    interrupted: bool = False


class CallEvent(BaseModel):
    """A lifecycle or latency event on a call's timeline."""

    model_config = ConfigDict(extra="forbid")

    call_id: str
    seq: int
    t_ms: int
    kind: str
    data: dict[str, Any] = Field(default_factory=dict)
