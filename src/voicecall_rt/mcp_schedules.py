"""The MCP tools' side of scheduled calls and retries (docs/business.md §Retries and
scheduled calls): make_phone_call's `at`, `timeZone` and `whenAllowed`, a schedule as a
tool result (get_call takes a schedule's id too), and the cancel_scheduled_call tool."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Final

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from voicecall_rt.mcp_results import CallResult, ScheduleInfo, call_result

Request = Callable[..., Awaitable[Any]]
SCHEDULE_PREFIX: Final = "sched_"

AtParam = Annotated[
    str | None,
    Field(
        description="Place the call later instead of now: an ISO 8601 time with its offset, "
        "e.g. '2026-03-02T09:30:00-08:00', or without one together with timeZone. Not in "
        "the past, at most 366 days ahead. The result is the schedule (status 'scheduled'), "
        "no call yet."
    ),
]
TimeZoneParam = Annotated[
    str | None,
    Field(description="The IANA time zone of an `at` without offset, e.g. 'America/New_York'."),
]
WhenAllowedParam = Annotated[
    bool,
    Field(
        description="If the callee's calling hours do not allow the call now (or at `at`), "
        "schedule it for the next allowed time instead of refusing it."
    ),
]

CANCEL_DESCRIPTION = """\
Cancel a scheduled call (schedule id sched_...) before it is placed, or the follow-up \
attempts still to come of a call that is being retried (a live attempt goes on). Returns \
the schedule as get_call would."""


def _iso(epoch_ms: int) -> str:
    return dt.datetime.fromtimestamp(epoch_ms / 1000, tz=dt.UTC).isoformat(timespec="seconds")


def schedule_info(schedule: dict[str, Any]) -> ScheduleInfo:
    return ScheduleInfo(
        schedule_id=schedule["id"],
        state=schedule["state"],
        due_at=_iso(schedule["due_at"]),
        attempts_made=schedule["attempts_made"],
        max_attempts=schedule["max_attempts"],
        reason=schedule.get("reason"),
    )


def scheduled_result(schedule: dict[str, Any]) -> CallResult:
    """A schedule with no call to show yet (or none any more to wait for)."""
    info = schedule_info(schedule)
    live = info.state in ("pending", "placing", "waiting")
    if live:
        summary = (
            f"The call is scheduled for {info.due_at} (attempt {info.attempts_made + 1} of"
            f" {info.max_attempts}); it has not been placed yet."
        )
        next_step = (
            f'Nothing to wait for now. Later, call get_call with call_id="{info.schedule_id}" '
            "to see how it went; cancel_scheduled_call cancels it."
        )
    else:
        summary = f"The scheduled call is {info.state}: {info.reason or 'no reason given'}."
        next_step = None
    return CallResult(
        call_id=info.schedule_id,
        status="scheduled" if live else info.state,
        active=False,
        direction="outbound",
        number=schedule["to_number"],
        summary=summary,
        next_step=next_step,
        schedule=info,
    )


async def schedule_result(
    request: Request, schedule_id: str, fetch_call: Callable[[str], Awaitable[dict[str, Any]]]
) -> CallResult:
    """A schedule by id as a tool result: its latest attempt's call when it has one."""
    detail = await request("GET", f"/api/schedules/{schedule_id}")
    schedule = detail["schedule"]
    if schedule["last_call_id"] is None or schedule["state"] == "pending":
        return scheduled_result(schedule)
    result = call_result(await fetch_call(schedule["last_call_id"]))
    return result.model_copy(update={"schedule": schedule_info(schedule)})


def register_schedule_tools(server: MCPServer, request: Request) -> None:
    @server.tool(
        description=CANCEL_DESCRIPTION,
        annotations=ToolAnnotations(
            title="Cancel a scheduled call", read_only_hint=False, destructive_hint=True
        ),
    )
    async def cancel_scheduled_call(
        schedule_id: Annotated[str, Field(description="The schedule id, e.g. sched_0123…")],
    ) -> CallResult:
        if not re.fullmatch(r"sched_[0-9a-f]{1,32}", schedule_id):
            raise ToolError(f"{schedule_id[:40]!r} is not a schedule id (sched_...)")
        canceled = await request(
            "DELETE", f"/api/schedules/{schedule_id}", what="nothing was canceled: "
        )
        return scheduled_result(canceled["schedule"])
