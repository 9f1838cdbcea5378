"""The local API's scheduled calls and retries: list, one with its attempts, cancel
(docs/business.md §Retries and scheduled calls). Creating one is `POST /api/calls` with
`at` or `whenAllowed` (web/api.py)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from voicecall_rt.call.records import CallStatus, now_ms
from voicecall_rt.store import schedules
from voicecall_rt.store.base import Store
from voicecall_rt.store.schedules import Schedule
from voicecall_rt.web.api import error_response as _error
from voicecall_rt.web.api import json_response as _json
from voicecall_rt.web.api import query_limit
from voicecall_rt.web.keys import SCHEDULER, STORE


class ScheduleAttempt(BaseModel):
    """One attempt of a schedule: its own call."""

    model_config = ConfigDict(extra="forbid")

    attempt: int
    call_id: str
    status: CallStatus
    end_reason: str | None
    answered_by: str | None
    created_at: int


class ScheduleDetail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schedule: Schedule
    attempts: list[ScheduleAttempt]


def schedule_json(schedule: Schedule) -> dict[str, Any]:
    return schedule.model_dump(mode="json")


async def list_schedules(request: web.Request) -> web.Response:
    limit = query_limit(request)
    if limit is None:
        return _error(400, "invalid-request", "limit must be a number")
    live_only = request.query.get("live", "") in ("1", "true")
    found = await schedules.list_schedules(request.app[STORE], limit, live_only=live_only)
    return _json({"schedules": [schedule_json(s) for s in found]})


async def schedule_detail(store: Store, schedule_id: str) -> ScheduleDetail | None:
    schedule = await schedules.get_schedule(store, schedule_id)
    if schedule is None:
        return None
    attempts = [
        ScheduleAttempt(
            attempt=record.attempt or 1,
            call_id=record.id,
            status=record.status,
            end_reason=record.end_reason,
            answered_by=record.answered_by,
            created_at=record.created_at,
        )
        for record in await schedules.schedule_attempts(store, schedule_id)
    ]
    return ScheduleDetail(schedule=schedule, attempts=attempts)


async def get_schedule(request: web.Request) -> web.Response:
    detail = await schedule_detail(request.app[STORE], request.match_info["schedule_id"])
    if detail is None:
        return _error(404, "not-found", "no such schedule")
    return _json(detail.model_dump(mode="json"))


async def cancel_schedule(request: web.Request) -> web.Response:
    """Pending: never placed. Waiting (an attempt is live): that call goes on, no further
    attempt follows. Over already: 409."""
    store, schedule_id = request.app[STORE], request.match_info["schedule_id"]
    canceled = await schedules.cancel_schedule(store, schedule_id, now_ms())
    if canceled is None:
        existing = await schedules.get_schedule(store, schedule_id)
        if existing is None:
            return _error(404, "not-found", "no such schedule")
        return _error(
            409,
            "schedule-over",
            f"schedule {schedule_id} is {existing.state} already: nothing to cancel",
        )
    request.app[SCHEDULER].wake()
    return _json({"schedule": schedule_json(canceled)})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/schedules", list_schedules, allow_head=False)
    app.router.add_get("/api/schedules/{schedule_id}", get_schedule, allow_head=False)
    app.router.add_delete("/api/schedules/{schedule_id}", cancel_schedule)
