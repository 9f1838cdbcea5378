"""Retries and scheduled calls as clients see them: `call --wait` following the retries,
`calls scheduled` and `calls cancel` on the CLI, the schedule responses against the OpenAPI
document, and the schedule tools over MCP."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate

from tests.helpers.cli import cli, one_line, world_config
from tests.helpers.mcp_client import error, mcp_client, ok
from tests.helpers.phone import TO
from tests.helpers.polling import eventually
from tests.helpers.scheduling_world import (
    ANSWERED,
    BUSY,
    MONDAY_10AM,
    TASK,
    in_turn,
    ms,
    reaches,
    retry,
    schedule_of,
    scheduling_world,
)
from tests.helpers.world import MakeWorld
from voicecall_rt.cli.shared import EXIT_FAILED

# ---- the CLI ------------------------------------------------------------------------------


async def test_cli_call_wait_follows_the_retries(make_world: MakeWorld, tmp_path: Path) -> None:
    world, scheduler, clock = await scheduling_world(
        make_world,
        in_turn(BUSY, ANSWERED),
        **retry(2, backoffSeconds=10),
    )
    clock.now = datetime.now(UTC)  # the CLI waits for a pending attempt in real time
    config = world_config(world, tmp_path)
    waiting = asyncio.ensure_future(cli("call", "-n", TO, "-t", TASK, "--wait", config=config))
    listed: list[dict[str, Any]] = []

    async def retry_pending() -> bool:
        _, data = await world.api("GET", "/api/schedules")
        listed[:] = data["schedules"]
        return bool(listed) and listed[0]["state"] == "pending"

    await eventually(retry_pending, 20, "the first attempt busy, the second pending")
    clock.advance(10)
    await scheduler.run_once()
    code, out, err = await waiting
    assert code == EXIT_FAILED, err  # answered, but no outcome reported
    assert "attempt 1 (call_" in err and "): busy (busy)" in err
    assert "attempt 2 (call_" in err and "): completed" in err
    done = await schedule_of(world, listed[0]["id"])
    assert done["schedule"]["state"] == "done"
    assert done["attempts"][1]["call_id"] in out  # the final attempt is the call reported
    assert "attempt 2 of schedule" in out


async def test_cli_scheduled_and_cancel(make_world: MakeWorld, tmp_path: Path) -> None:
    world, _, _ = await scheduling_world(make_world, in_turn(ANSWERED))
    config = world_config(world, tmp_path)
    at = (MONDAY_10AM + timedelta(hours=1)).isoformat()
    status, created = await world.api("POST", "/api/calls", {"to": TO, "task": TASK, "at": at})
    assert status == 202, created
    schedule_id = created["schedule"]["id"]
    code, out, err = await cli("calls", "scheduled", "--json", config=config)
    assert code == 0, err
    [listed] = json.loads(out)
    assert (listed["id"], listed["state"], listed["due_at"]) == (
        schedule_id,
        "pending",
        ms(MONDAY_10AM + timedelta(hours=1)),
    )
    code, out, err = await cli("calls", "scheduled", config=config)
    assert code == 0 and schedule_id in out and "2030-01-07 19:00:00 UTC" in out
    code, out, err = await cli("calls", "cancel", schedule_id, config=config)
    assert code == 0, err
    assert f"schedule {schedule_id} canceled" in out
    assert (await schedule_of(world, schedule_id))["schedule"]["state"] == "canceled"
    code, out, err = await cli("calls", "cancel", schedule_id, config=config)
    assert code == EXIT_FAILED and "canceled already" in one_line(err)
    code, out, err = await cli("calls", "cancel", "sched_nope", config=config)
    assert code == EXIT_FAILED and "no schedule sched_nope" in one_line(err)


async def test_schedule_responses_match_the_openapi_document(make_world: MakeWorld) -> None:
    world, _, _ = await scheduling_world(make_world, in_turn(BUSY), **retry(2))
    status, document = await world.api("GET", "/api/openapi.json")
    validate(document)

    def matches(body: Any, name: str) -> None:
        ref = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
        jsonschema.validate(body, ref)

    status, placed = await world.api("POST", "/api/calls", {"to": TO, "task": TASK})
    assert status == 201
    matches(placed, "CallEnvelope")
    at = (MONDAY_10AM + timedelta(days=1)).isoformat()
    status, later = await world.api("POST", "/api/calls", {"to": TO, "task": TASK, "at": at})
    assert status == 202
    matches(later, "ScheduleEnvelope")
    matches(await reaches(world, placed["schedule"]["id"], "pending"), "ScheduleDetail")
    status, listed = await world.api("GET", "/api/schedules")
    matches(listed, "ScheduleList")
    assert [s["id"] for s in listed["schedules"]] == [
        placed["schedule"]["id"],  # due first
        later["schedule"]["id"],
    ]
    status, canceled = await world.api("DELETE", f"/api/schedules/{later['schedule']['id']}")
    matches(canceled, "ScheduleEnvelope")
    assert set(document["paths"]) >= {"/api/schedules", "/api/schedules/{schedule_id}"}


# ---- MCP -----------------------------------------------------------------------------------


@pytest.mark.slow  # the MCP server as a child process
async def test_mcp_schedules_lists_gets_and_cancels(make_world: MakeWorld, tmp_path: Path) -> None:
    world, _, _ = await scheduling_world(make_world, in_turn(ANSWERED))
    config = world_config(world, tmp_path)
    at = (MONDAY_10AM + timedelta(hours=2)).isoformat()
    async with asyncio.timeout(60), mcp_client(config) as client:
        placed = ok(await client.call_tool("make_phone_call", {"to": TO, "task": TASK, "at": at}))
        schedule_id = placed["call_id"]
        assert schedule_id.startswith("sched_")
        assert (placed["status"], placed["active"]) == ("scheduled", False)
        assert placed["schedule"]["due_at"] == "2030-01-07T20:00:00+00:00"
        assert "cancel_scheduled_call" in placed["next_step"]
        got = ok(await client.call_tool("get_call", {"call_id": schedule_id}))
        assert got["status"] == "scheduled" and got["schedule"]["state"] == "pending"
        listed = ok(await client.call_tool("list_calls", {}))
        assert listed["calls"] == []
        assert [s["schedule_id"] for s in listed["scheduled"]] == [schedule_id]
        canceled = ok(await client.call_tool("cancel_scheduled_call", {"schedule_id": schedule_id}))
        assert canceled["status"] == "canceled"
        again = error(await client.call_tool("cancel_scheduled_call", {"schedule_id": schedule_id}))
        assert "canceled already" in again
        past = {"to": TO, "task": TASK, "at": "2001-01-01T00:00:00Z"}
        refused = error(await client.call_tool("make_phone_call", past))
        assert "the call was not placed" in refused and "in the past" in refused
    assert (await world.api("GET", "/api/calls"))[1]["calls"] == []
