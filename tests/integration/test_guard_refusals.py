"""Each guard's refusal as the API, the CLI and the MCP server give it (docs/business.md
§Guards): its status and code, one clear sentence, and nothing dialled or stored."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Final, NamedTuple

import pytest

from tests.helpers.cli import cli, one_line, world_config
from tests.helpers.mcp_client import error, mcp_client
from tests.helpers.world import MakeWorld
from tests.helpers.world_carrier import twilio_of
from voicecall_rt.call.records import CallRecord, CallStatus
from voicecall_rt.simulator.scenario import CallPlan, ModelScript
from voicecall_rt.simulator.world import SimWorld

TASK = "Confirm Tuesday's appointment at three."
# A Monday, 15:00 UTC: 07:00 in San Francisco (closed), 16:00 in Paris (open).
MONDAY_3PM_UTC: Final = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
BLOCKED: Final = "+33142000001"
# $4.00 of model use (1M text tokens in at gpt-realtime-2.1's list price) earlier today.
SPENT_TODAY: Final = CallRecord(
    id="call_00000000000000aa",
    direction="outbound",
    from_number="+14155550000",
    to_number="+33142000009",
    task=TASK,
    status=CallStatus.COMPLETED,
    created_at=int(datetime(2026, 12, 7, 10, 0, tzinfo=UTC).timestamp() * 1000),
    usage={"input_tokens": 1_000_000, "input_text_tokens": 1_000_000, "output_tokens": 0},
    carrier="twilio",
)


class Refusal(NamedTuple):
    to: str
    status: int
    code: str
    message: str


REFUSALS: Final = (
    Refusal(
        "+1911",
        403,
        "emergency-number",
        "+1911 is an emergency number (911): calls to emergency services are never placed",
    ),
    Refusal(
        "+19005551234",
        403,
        "premium-number",
        "+19005551234 is a premium-rate number: such numbers bill the caller for a service,"
        " and calls to them are never placed",
    ),
    Refusal(
        BLOCKED,
        403,
        "blocked-number",
        f"{BLOCKED} is on the blocklist (calls.blockedNumbers): no call placed",
    ),
    Refusal(
        "+14155550123",
        409,
        "outside-calling-hours",
        "outside calling hours for +1415…: next allowed Mon 2026-12-07 09:00"
        " America/Los_Angeles (17:00 UTC); add --when-allowed to schedule it then",
    ),
    Refusal(
        "+33142000002",
        429,
        "daily-spend-limit",
        "today's calls have cost $4.00, reaching limits.dailySpendUsd ($1.00 a day from"
        " 00:00 UTC): no new call until the day ends there",
    ),
)


async def guarded_world(make_world: MakeWorld) -> SimWorld:
    world = await make_world(
        CallPlan(ring_ms=100),
        ModelScript(),
        **{
            "calls.blockedNumbers": [BLOCKED],
            "calls.hours.start": "09:00",
            "calls.hours.end": "20:00",
            "calls.hours.days": ["mon", "tue", "wed", "thu", "fri"],
            "limits.dailySpendUsd": 1.0,
        },
    )
    world.server.manager.clock = lambda: MONDAY_3PM_UTC
    world.server.store.insert_call(SPENT_TODAY)
    return world


async def nothing_placed(world: SimWorld) -> None:
    assert twilio_of(world).created == []  # nothing dialled
    status, listing = await world.api("GET", "/api/calls")
    assert status == 200
    assert [call["id"] for call in listing["calls"]] == [SPENT_TODAY.id]  # nor stored


async def test_the_api_refuses_with_a_status_a_code_and_a_sentence(make_world: MakeWorld) -> None:
    world = await guarded_world(make_world)
    for refusal in REFUSALS:
        status, body = await world.api("POST", "/api/calls", {"to": refusal.to, "task": TASK})
        assert (status, body["error"]["code"]) == (refusal.status, refusal.code), body
        assert body["error"]["message"] == refusal.message
    await nothing_placed(world)


@pytest.mark.slow  # the CLI as a child process
async def test_the_cli_says_the_refusal_in_one_line(make_world: MakeWorld, tmp_path: Path) -> None:
    world = await guarded_world(make_world)
    config = world_config(world, tmp_path)
    for refusal in REFUSALS:
        code, out, err = await cli("call", "-n", refusal.to, "-t", TASK, "--wait", config=config)
        assert code != 0
        assert out == ""
        assert one_line(err) == f"error: {refusal.message}"
    await nothing_placed(world)


@pytest.mark.slow  # the MCP server as a child process
async def test_the_mcp_tool_says_the_refusal(make_world: MakeWorld, tmp_path: Path) -> None:
    world = await guarded_world(make_world)
    async with mcp_client(world_config(world, tmp_path)) as client:
        for refusal in REFUSALS:
            result = await client.call_tool("make_phone_call", {"to": refusal.to, "task": TASK})
            message = error(result)
            assert refusal.message in message, message
            assert "not placed" in message
    await nothing_placed(world)
