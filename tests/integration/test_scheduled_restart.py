"""Scheduled calls live in the store, with real `serve` processes: one scheduled a few
seconds ahead survives its server stopping before it is due and is placed once by the
next; and two instances on one PostgreSQL, both waking at the same due time, place each
due schedule exactly once."""

from __future__ import annotations

import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.cluster_world import cluster_world
from tests.helpers.phone import TO
from tests.helpers.polling import eventually
from tests.helpers.serve_process import ServeProcess, serve_process
from voicecall_rt.simulator.scenario import CallPlan, HangUp, ModelScript, Pause

pytestmark = pytest.mark.slow  # real `serve` child processes, real time

TASK = "Confirm the delivery slot for tomorrow."
ANSWERED = CallPlan(ring_ms=100, callee=(Pause(300), HangUp()))


def soon(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def schedules_of(serve: ServeProcess) -> list[dict[str, Any]]:
    status, data = await serve.api("GET", "/api/schedules")
    assert status == 200, data
    found: list[dict[str, Any]] = data["schedules"]
    return found


async def test_a_schedule_survives_a_restart_and_is_placed_once(tmp_path: Path) -> None:
    async with serve_process(tmp_path, "twilio", ANSWERED, ModelScript()) as first:
        body = {"to": TO, "task": TASK, "at": soon(6)}
        status, created = await first.api("POST", "/api/calls", body)
        assert status == 202, created
        schedule_id = created["schedule"]["id"]
        first.signal(signal.SIGTERM)  # draining at once: it claims nothing from now on
        assert await first.exit_code() == 0
    assert [s["id"] for s in await _listed_after(tmp_path)] == [schedule_id]

    async with serve_process(tmp_path, "twilio", ANSWERED, ModelScript()) as second:

        async def done() -> bool:
            [schedule] = await schedules_of(second)
            return bool(schedule["state"] == "done")

        await eventually(done, 40, "the schedule placed by the restarted server, and answered")
        status, detail = await second.api("GET", f"/api/schedules/{schedule_id}")
        assert detail["schedule"]["reason"] == "answered"
        [attempt] = detail["attempts"]
        status, calls = await second.api("GET", "/api/calls")
        assert [c["id"] for c in calls["calls"]] == [attempt["call_id"]]  # placed once
        assert calls["calls"][0]["schedule_id"] == schedule_id


async def _listed_after(tmp_path: Path) -> list[dict[str, Any]]:
    """The schedules stored in the stopped server's data dir, read as the CLI would."""
    from voicecall_rt.store.schedules import list_schedules
    from voicecall_rt.store.sqlite.database import SqliteStore

    store = await SqliteStore.open(tmp_path / "data")
    try:
        return [s.model_dump(mode="json") for s in await list_schedules(store)]
    finally:
        await store.close()


async def test_two_instances_place_each_due_schedule_once(tmp_path: Path, pg_url: str) -> None:
    async with cluster_world(tmp_path, pg_url, ANSWERED, ModelScript()) as world:
        at = soon(5)  # every instance wakes at the soonest due time: they race for the rows
        ids = []
        for name in ("a", "b", "a", "b"):
            status, created = await world.instances[name].api(
                "POST", "/api/calls", {"to": TO, "task": TASK, "at": at}
            )
            assert status == 202, created
            ids.append(created["schedule"]["id"])

        async def all_done() -> bool:
            rows = await world.fetch("SELECT state FROM schedules")
            return len(rows) == 4 and all(r["state"] == "done" for r in rows)

        await eventually(all_done, 60, "the four schedules placed and answered")
        rows = await world.fetch(
            "SELECT schedule_id, count(*) AS n FROM calls WHERE schedule_id IS NOT NULL"
            " GROUP BY schedule_id"
        )
        assert {r["schedule_id"]: r["n"] for r in rows} == dict.fromkeys(ids, 1)
        owners = await world.fetch("SELECT DISTINCT claimed_by FROM schedules")
        assert [r["claimed_by"] for r in owners] == [None]  # claims released once placed
