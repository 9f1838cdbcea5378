"""The `voicecall-rt` console script against a live simulated world.

The CLI runs as a real child process (the installed console script) talking to our real
server over loopback, while the world keeps running on this test's event loop
(tests/helpers/cli.py).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.cli import cli, free_port, one_line, world_config, write_config
from tests.helpers.world import MakeWorld
from tests.helpers.world_carrier import twilio_of
from voicecall_rt.private_files import ensure_api_token
from voicecall_rt.simulator.scenario import CallPlan, CallTool, ModelScript, Pause, Say, Speak

TO = "+14155550123"
OTHER = "+14155550124"
TASK = "Book a table for two tonight at 8pm under the name Kim."
SUMMARY = "Booked a table for two at 8 pm under Kim."
OUTCOME = {
    "success": True,
    "summary": SUMMARY,
    "details": {"confirmation": "12"},
}
CALLEE_LINE = "Luigi's, hello."
BOOKING_PLAN = CallPlan(ring_ms=100, amd_delay_ms=50, callee=(Speak(CALLEE_LINE, 300),))
FIRST_SAY = "Hi, a table for two at eight, please."
LAST_SAY = "Thanks, bye!"
BOOKING_SCRIPT = ModelScript(
    turns=(
        (Say(FIRST_SAY, 300), CallTool("report_outcome", OUTCOME)),
        (Say(LAST_SAY, 300), CallTool("end_call", {"reason": "booked"})),
    ),
    caller_transcripts=(CALLEE_LINE,),
)
CALL_ID = re.compile(r"call_[0-9a-f]{16}")


# ---- call ----------------------------------------------------------------------------


async def test_call_wait_json_prints_the_outcome(make_world: MakeWorld, tmp_path: Path) -> None:
    world = await make_world(BOOKING_PLAN, BOOKING_SCRIPT)
    config = world_config(world, tmp_path)
    code, out, err = await cli("call", "-n", TO, "-t", TASK, "--wait", "--json", config=config)
    assert code == 0, err
    result: dict[str, Any] = json.loads(out)
    assert CALL_ID.fullmatch(result["call_id"])
    assert result["status"] == "completed"
    assert result["end_reason"] == "model-ended"
    assert result["outcome"] == OUTCOME
    lines = sorted(result["transcript"], key=lambda line: line["t_ms"])
    assert [(line["role"], line["text"]) for line in lines] == [
        ("caller", CALLEE_LINE),
        ("assistant", FIRST_SAY),
        ("assistant", LAST_SAY),
    ]
    assert all(isinstance(line["t_ms"], int) and line["t_ms"] > 0 for line in lines)

    # It is the call the server placed and stored.
    [create] = twilio_of(world).created
    assert create["To"] == [TO]
    status, stored = await world.api("GET", f"/api/calls/{result['call_id']}")
    assert status == 200 and stored["call"]["outcome"] == OUTCOME


async def test_call_without_wait_prints_the_id(make_world: MakeWorld, tmp_path: Path) -> None:
    world = await make_world(CallPlan(answer="busy", ring_ms=100), ModelScript())
    config = world_config(world, tmp_path)
    code, out, err = await cli("call", "-n", TO, "-t", TASK, config=config)
    assert code == 0, err
    match = CALL_ID.search(out)
    assert match is not None, out
    assert TO in out
    data = await world.wait_call(match.group())
    assert data["call"]["to_number"] == TO
    assert data["call"]["status"] == "busy"
    assert len(twilio_of(world).created) == 1


async def test_call_invalid_number_fails_with_a_reason(
    make_world: MakeWorld, tmp_path: Path
) -> None:
    world = await make_world(BOOKING_PLAN, BOOKING_SCRIPT)
    config = world_config(world, tmp_path)
    code, out, err = await cli("call", "-n", "12345", "-t", TASK, config=config)
    assert code != 0
    assert out == ""
    assert "E.164" in one_line(err)
    assert twilio_of(world).created == []
    assert world.model.sessions == []


async def test_call_at_capacity_fails_with_the_limit(make_world: MakeWorld, tmp_path: Path) -> None:
    world = await make_world(
        CallPlan(ring_ms=100, callee=(Pause(20_000),)), ModelScript(), **{"calls.maxConcurrent": 1}
    )
    config = world_config(world, tmp_path)
    first = await world.place(TO, TASK)
    sim = await world.carrier.wait_call()
    code, _, err = await cli("call", "-n", OTHER, "-t", TASK, "--wait", config=config)
    assert code != 0
    assert "limit" in one_line(err)
    assert len(twilio_of(world).created) == 1
    await sim.hang_up()
    assert (await world.wait_call(first))["call"]["status"] == "completed"


@pytest.mark.slow  # the CLI as a child process
async def test_call_without_a_server(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    ensure_api_token(data_dir)  # a server ran here once, but none is listening now
    config = write_config(tmp_path / "cli.toml", data_dir, free_port())
    code, out, err = await cli("call", "-n", TO, "-t", TASK, config=config)
    assert code == 3
    assert out == ""
    assert "no voicecall-rt server is running" in one_line(err)

    # Never started at all (no API token yet): the same exit code, saying so.
    never = write_config(tmp_path / "never.toml", tmp_path / "never", free_port())
    code, _, err = await cli("call", "-n", TO, "-t", TASK, config=never)
    assert code == 3
    assert "no server has run" in one_line(err)


# ---- calls -----------------------------------------------------------------------------


async def test_calls_list_and_show(make_world: MakeWorld, tmp_path: Path) -> None:
    world = await make_world(BOOKING_PLAN, BOOKING_SCRIPT)
    config = world_config(world, tmp_path)
    call_id = await world.place(TO, TASK)
    await world.wait_call(call_id)

    code, out, err = await cli("calls", "list", config=config)
    assert code == 0, err
    row = next(line for line in out.splitlines() if call_id in line)
    assert "completed" in row
    assert SUMMARY[:20] in row

    code, out, err = await cli("calls", "list", "--json", config=config)
    assert code == 0, err
    [listed] = json.loads(out)
    assert listed["id"] == call_id and listed["status"] == "completed"
    assert listed["outcome"] == OUTCOME

    code, out, err = await cli("calls", "show", call_id, config=config)
    assert code == 0, err
    assert call_id in out
    assert "status: completed" in out
    assert "reason: model-ended" in out
    assert SUMMARY in out
    assert "confirmation: 12" in out
    assert "transcript:" in out
    for role, text in (("caller", CALLEE_LINE), ("assistant", FIRST_SAY), ("assistant", LAST_SAY)):
        assert any(role in line and text in line for line in out.splitlines()), (role, text)

    code, out, err = await cli("calls", "show", call_id, "--json", config=config)
    assert code == 0, err
    shown = json.loads(out)
    assert shown["call"]["id"] == call_id and shown["call"]["outcome"] == OUTCOME
    assert [t["role"] for t in sorted(shown["transcript"], key=lambda t: t["t_ms"])] == [
        "caller",
        "assistant",
        "assistant",
    ]

    code, out, err = await cli("calls", "show", "call_0000000000000000", config=config)
    assert code != 0
    assert "no call" in one_line(err)
