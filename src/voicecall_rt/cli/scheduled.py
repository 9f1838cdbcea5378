"""`voicecall-rt calls scheduled` and `calls cancel ID`: the scheduled calls and retries
(store/schedules.py), read and cancelled in the store directly, as `calls` reads the
history; and how `call --wait` follows a schedule to its final attempt."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Final

import orjson
import typer
from rich.markup import escape
from rich.table import Table

from voicecall_rt.call.records import TERMINAL_STATUSES
from voicecall_rt.cli.shared import (
    EXIT_FAILED,
    ConfigOption,
    JsonOption,
    err,
    fail,
    out,
    settings_from,
)
from voicecall_rt.config import Settings
from voicecall_rt.store.schedules import FINAL_STATES, Schedule

if TYPE_CHECKING:
    from voicecall_rt.cli.call import LocalApi


def when(epoch_ms: int) -> str:
    return f"{datetime.fromtimestamp(epoch_ms / 1000, UTC):%Y-%m-%d %H:%M:%S} UTC"


def calls_scheduled(
    config: ConfigOption = None,
    json_output: JsonOption = False,
    limit: Annotated[int, typer.Option(help="How many schedules.")] = 20,
) -> None:
    """Scheduled calls and retries: the live ones first (soonest due), then the newest."""
    settings = settings_from(config)
    found = asyncio.run(_listed(settings, limit))
    if json_output:
        out.print_json(orjson.dumps([s.model_dump(mode="json") for s in found]).decode())
        return
    if not found:
        out.print("No scheduled calls.")
        return
    table = Table("id", "number", "state", "due", "attempts", "last call", "reason")
    for s in found:
        table.add_row(
            s.id,
            s.to_number,
            s.state,
            when(s.due_at) if s.state not in FINAL_STATES else "-",
            f"{s.attempts_made}/{s.max_attempts}",
            s.last_call_id or "-",
            escape(s.reason or ""),
        )
    out.print(table)


def calls_cancel(
    schedule_id: Annotated[str, typer.Argument(help="The schedule's id (sched_…).")],
    config: ConfigOption = None,
) -> None:
    """Cancel a scheduled call, or the retries still to come (a live attempt goes on)."""
    settings = settings_from(config)
    canceled, existing = asyncio.run(_cancel(settings, schedule_id))
    if canceled is None:
        if existing is None:
            fail(f"no schedule {escape(schedule_id)}")
        fail(f"schedule {schedule_id} is {existing.state} already: nothing to cancel")
    live = " (its live attempt goes on)" if canceled.last_call_id else ""
    out.print(f"schedule {schedule_id} canceled: no further attempt{live}.")


async def _listed(settings: Settings, limit: int) -> list[Schedule]:
    from voicecall_rt.store import open_store
    from voicecall_rt.store.schedules import list_schedules

    store = await open_store(settings)
    try:
        return await list_schedules(store, limit)
    finally:
        await store.close()


async def _cancel(settings: Settings, schedule_id: str) -> tuple[Schedule | None, Schedule | None]:
    from voicecall_rt.call.records import now_ms
    from voicecall_rt.store import open_store
    from voicecall_rt.store.schedules import cancel_schedule, get_schedule

    store = await open_store(settings)
    try:
        canceled = await cancel_schedule(store, schedule_id, now_ms())
        existing = canceled or await get_schedule(store, schedule_id)
        return canceled, existing
    finally:
        await store.close()


async def follow_schedule(api: LocalApi, schedule_id: str, json_output: bool) -> int:
    """Wait for the schedule's final attempt, saying how each one ended; then report that
    attempt's call as `call --wait` reports a call."""
    from voicecall_rt.cli.call import report_call

    told: set[str] = set()
    while True:
        detail = await api.request("GET", f"/api/schedules/{schedule_id}")
        schedule = detail["schedule"]
        for attempt in detail["attempts"]:
            if attempt["call_id"] not in told and attempt["status"] in _ENDED:
                told.add(attempt["call_id"])
                if not json_output:
                    err.print(
                        f"attempt {attempt['attempt']} ({attempt['call_id']}):"
                        f" {attempt['status']} ({attempt.get('end_reason') or '-'})"
                    )
        if schedule["state"] in FINAL_STATES:
            break
        last = schedule["last_call_id"]
        if schedule["state"] == "waiting" and last and last not in told:
            await api.request("GET", f"/api/calls/{last}?wait=30")
        elif schedule["state"] == "pending":  # asked again now and then: it may be cancelled
            wait_s = schedule["due_at"] / 1000 - time.time()
            await asyncio.sleep(min(2.0, max(0.2, wait_s)))
        else:  # the attempt just ended: the scheduler is deciding
            await asyncio.sleep(0.2)
    if not json_output:
        err.print(f"schedule {schedule_id} {schedule['state']}: {escape(schedule['reason'] or '')}")
    if schedule["last_call_id"] is None:
        return EXIT_FAILED  # never placed: canceled, or refused
    data = await api.request("GET", f"/api/calls/{schedule['last_call_id']}")
    return report_call(data, json_output)


_ENDED: Final = frozenset(status.value for status in TERMINAL_STATUSES)


def scheduled_message(schedule: dict[str, Any]) -> str:
    due = when(schedule["due_at"])
    return f"call to {schedule['to_number']} scheduled for {due} ({schedule['id']})"
