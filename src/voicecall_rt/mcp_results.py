"""What the MCP tools return: a call, or a list of them, shaped from the local API's
answers, and the progress words a live call's events become."""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from pydantic import BaseModel, Field

# The longest any tool waits on a call. OpenClaw's MCP client abandons a request after
# 60 s by default (mcp.servers.<name>.requestTimeoutMs) and progress notifications do not
# extend it; 45 s leaves room for placing the call and answering.
MAX_WAIT_S: Final = 45
MAX_LINE_CHARS = 300
MAX_LINES = 60  # kept: the first HEAD_LINES and the rest from the end
HEAD_LINES = 10


class CallOutcome(BaseModel):
    success: bool
    summary: str
    details: dict[str, Any] = Field(default_factory=dict)
    transferred_to: str | None = Field(
        default=None,
        description="the transfer target's label, when the call was handed over",
        exclude_if=lambda label: label is None,
    )


class ScheduleInfo(BaseModel):
    """A scheduled call, or a call's retries (mcp_schedules.py)."""

    schedule_id: str
    state: str = Field(description="pending, placing, waiting, done, canceled or failed")
    due_at: str = Field(description="when the next attempt is due, UTC, ISO 8601")
    attempts_made: int
    max_attempts: int
    reason: str | None = None


class CallResult(BaseModel):
    """A call as the tools report it."""

    call_id: str
    status: str = Field(
        description="initiating, queued, ringing, in-progress, completed, busy, failed,"
        " no-answer or canceled"
    )
    active: bool = Field(description="true while the call is still ringing or in progress")
    direction: str
    number: str = Field(description="the other party's number")
    end_reason: str | None = None
    duration_s: float | None = Field(default=None, description="seconds since it was answered")
    answered_by: str | None = Field(
        default=None, description="answering-machine detection: human, machine_*, fax, unknown"
    )
    outcome: CallOutcome | None = Field(
        default=None, description="what the voice AI reported; null when it reported nothing"
    )
    transcript: list[str] = Field(
        default_factory=list, description='"callee: ..." and "AI: ..." lines, trimmed'
    )
    transcript_lines_omitted: int = 0
    error: str | None = None
    summary: str = Field(description="the call in one sentence")
    next_step: str | None = Field(
        default=None,
        description="while the call is still going: exactly how to keep following it",
    )
    schedule: ScheduleInfo | None = Field(
        default=None,
        description="a scheduled call or one being retried: its schedule (call_id is the"
        " schedule's id while no attempt has been placed)",
    )


class CallListItem(BaseModel):
    call_id: str
    direction: str
    number: str
    status: str
    started_at: str = Field(description="UTC, ISO 8601")
    duration_s: float | None = None
    end_reason: str | None = None
    task: str = ""
    outcome_success: bool | None = None
    outcome_summary: str | None = None


class CallList(BaseModel):
    calls: list[CallListItem]
    scheduled: list[ScheduleInfo] = Field(
        default_factory=list, description="calls scheduled or being retried, soonest due first"
    )


def _trim(text: str, limit: int = MAX_LINE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _label(role: str, direction: str) -> str:
    if role == "assistant":
        return "AI"
    if role == "caller":
        return "callee" if direction == "outbound" else "caller"
    return role


def transcript_line(line: dict[str, Any], direction: str) -> str:
    """`callee: …` / `AI: …`; keypad presses and other notes as `[pressed 1]`."""
    text = _trim(str(line.get("text", "")))
    if line.get("role") == "system":
        return f"[{text}]"
    cut = " (cut off)" if line.get("interrupted") else ""
    return f"{_label(str(line.get('role')), direction)}: {text}{cut}"


def _transcript(lines: list[dict[str, Any]], direction: str) -> tuple[list[str], int]:
    shown = [transcript_line(line, direction) for line in lines]
    if len(shown) <= MAX_LINES:
        return shown, 0
    omitted = len(shown) - MAX_LINES
    tail = MAX_LINES - HEAD_LINES
    return [*shown[:HEAD_LINES], f"[… {omitted} lines omitted …]", *shown[-tail:]], omitted


def _number(record: dict[str, Any]) -> str:
    return str(record["to_number"] if record["direction"] == "outbound" else record["from_number"])


def _sentence(record: dict[str, Any], active: bool) -> str:
    status, reason = record["status"], record.get("end_reason")
    outcome = record.get("outcome")
    if active:
        what = {
            "in-progress": "is in progress",
            "ringing": "is ringing",
        }.get(status, f"is being placed ({status})")
        return f"The call {what}; it has not ended yet."
    ended = f"The call ended ({status}{f', {reason}' if reason and reason != status else ''})"
    if outcome is None:
        if status == "completed":
            return f"{ended}; the voice AI reported no outcome."
        return f"{ended} without a conversation."
    verdict = "the goal was achieved" if outcome["success"] else "the goal was NOT achieved"
    return f"{ended}; {verdict}: {outcome['summary']}"


def call_result(data: dict[str, Any]) -> CallResult:
    """A `GET /api/calls/{id}` answer as a tool result."""
    record = data["call"]
    active = bool(data.get("active", False))
    lines, omitted = _transcript(list(data.get("transcript", [])), record["direction"])
    outcome = record.get("outcome")
    return CallResult(
        call_id=record["id"],
        status=record["status"],
        active=active,
        direction=record["direction"],
        number=_number(record),
        end_reason=record.get("end_reason"),
        duration_s=(
            round(record["duration_s"], 1) if record.get("duration_s") is not None else None
        ),
        answered_by=record.get("answered_by"),
        outcome=CallOutcome.model_validate(outcome) if outcome else None,
        transcript=lines,
        transcript_lines_omitted=omitted,
        error=record.get("error"),
        summary=_sentence(record, active),
        next_step=_next_step(record["id"]) if active else None,
    )


def _next_step(call_id: str) -> str:
    return (
        f'The call is still going. Call get_call with call_id="{call_id}" and '
        f"waitSeconds={MAX_WAIT_S}: it returns as soon as the call ends, or after "
        f"{MAX_WAIT_S} s with active=true; repeat until active is false, then report the "
        "outcome. Do not place the call again. To end it now, call hang_up."
    )


def list_item(record: dict[str, Any]) -> CallListItem:
    outcome = record.get("outcome") or {}
    started = dt.datetime.fromtimestamp(record["created_at"] / 1000, tz=dt.UTC)
    return CallListItem(
        call_id=record["id"],
        direction=record["direction"],
        number=_number(record),
        status=record["status"],
        started_at=started.isoformat(timespec="seconds"),
        duration_s=(
            round(record["duration_s"], 1) if record.get("duration_s") is not None else None
        ),
        end_reason=record.get("end_reason"),
        task=_trim(record.get("task") or "", 200),
        outcome_success=outcome.get("success"),
        outcome_summary=outcome.get("summary"),
    )


def progress_message(kind: str, data: dict[str, Any], direction: str) -> str | None:
    """What a live call event means to the agent waiting on it (None: not worth a word)."""
    if kind == "transcript":
        return transcript_line(data, direction)
    payload = data.get("data") or {}
    if kind in ("status", "call.status"):
        return {"ringing": "ringing", "in-progress": "answered"}.get(str(payload.get("status")))
    if kind == "answered":
        return "answered"
    if kind == "placed":
        return "dialing"
    if kind == "amd":
        answered_by = str(payload.get("answered_by", ""))
        if answered_by.startswith("machine"):
            return "an answering machine picked up"
        if answered_by == "fax":
            return "a fax machine picked up"
        return None
    if kind == "voicemail":
        return "voicemail: leaving a message"
    if kind == "outcome":
        verdict = "success" if payload.get("success") else "not achieved"
        return f"outcome: {verdict}: {_trim(str(payload.get('summary', '')))}"
    if kind == "end" and "call" in data:
        record = data["call"]
        reason = record.get("end_reason")
        return f"call ended: {record['status']}" + (f" ({reason})" if reason else "")
    return None
