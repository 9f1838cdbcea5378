"""Transfer to a person end to end, on every carrier: the model says it is transferring and
calls transfer_call; the carrier hands the line over only once the goodbye has played, to
the configured number, with the right caller ID; the call ends `transferred` with its
event, transcript line and outcome. A label not configured (or a number the model makes up)
is an error the model reads, and nothing is dialled."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest

from tests.helpers.phone import TO, function_outputs, media_bytes, tool_names
from tests.helpers.world import MakeWorld
from tests.helpers.world_carrier import telnyx_of
from voicecall_rt.simulator.scenario import (
    CallPlan,
    CallTool,
    ModelScript,
    Say,
    Speak,
    WaitForModel,
    callee_lines,
)
from voicecall_rt.simulator.sim_call import SimCall, TransferDial
from voicecall_rt.simulator.world import FROM_NUMBER, SimWorld

FRONT_DESK = "+14155550142"
BILLING = "+14155550143"
CALLER = "+14155550177"
TARGETS = {
    "calls.transfer.targets": [
        {"label": "front desk", "number": FRONT_DESK},
        {"label": "Billing", "number": BILLING},
    ]
}
TASK = "Ask the clinic to move Sam's appointment; if they want a person, transfer them."
ASKS = "Can I talk to a real person at the front desk?"
TRANSFERRING = "Of course, I'm transferring you to the front desk now."
PLAN = CallPlan(ring_ms=100, callee=(Speak(ASKS, 400), WaitForModel(quiet_ms=300)))


def _script(target: str, *before: CallTool) -> ModelScript:
    return ModelScript(
        turns=(
            (
                *before,
                Say(TRANSFERRING, 900),
                CallTool("transfer_call", {"target": target, "reason": "asked for a person"}),
            ),
        ),
        caller_transcripts=callee_lines(PLAN),
    )


def _events(data: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["data"] for e in data["events"] if e["kind"] == kind]


def _system_lines(data: dict[str, Any]) -> list[str]:
    return [line["text"] for line in data["transcript"] if line["role"] == "system"]


async def _outbound(world: SimWorld) -> tuple[SimCall, dict[str, Any]]:
    call_id = await world.place(TO, TASK)
    sim = await world.carrier.wait_call()
    data = await world.wait_call(call_id)
    await sim.wait_for(lambda: sim.is_final, timeout=10)
    return sim, data


async def test_outbound_transfer_after_the_goodbye(make_world: MakeWorld, carrier: str) -> None:
    world = await make_world(PLAN, _script("  Front Desk "), **TARGETS)
    sim, data = await _outbound(world)

    # Dialled once, the configured number, our number as caller ID (an outbound call's
    # other party is the callee: not ours to show), and only once every byte of the
    # goodbye we sent had played to the callee.
    [dial] = sim.transfers
    assert dial == TransferDial(FRONT_DESK, FROM_NUMBER, dial.played_bytes)
    assert dial.played_bytes == media_bytes(sim) > 900 * 8 // 2
    assert sim.rest_hang_ups == []  # handed over, never hung up by us

    record = data["call"]
    assert record["status"] == "completed" and record["end_reason"] == "transferred"
    assert record["error"] is None
    assert record["outcome"] == {
        "success": True,
        "summary": "Transferred to front desk",
        "details": {},
        "transferred_to": "front desk",
    }
    [event] = _events(data, "transfer")
    assert event["target"] == "front desk"
    assert event["number"] != FRONT_DESK and event["number"].endswith(FRONT_DESK[-2:])
    assert _system_lines(data) == ["transferred to front desk"]
    assert TRANSFERRING in [line["text"] for line in data["transcript"]]


async def test_inbound_transfer_shows_the_callers_number(
    make_world: MakeWorld, carrier: str
) -> None:
    # The model greets first; the caller asks; the model reports, says it and transfers.
    plan = CallPlan(
        callee=(
            WaitForModel(quiet_ms=200, timeout_s=5),
            Speak(ASKS, 400),
            WaitForModel(quiet_ms=300),
        )
    )
    report = CallTool("report_outcome", {"success": False, "summary": "Wanted billing."})
    transfer = CallTool("transfer_call", {"target": "billing", "reason": "asked for billing"})
    script = ModelScript(
        turns=(
            (Say("Clinic, how can I help?", 300),),
            (report, Say(TRANSFERRING, 600), transfer),
        ),
        caller_transcripts=(ASKS,),
    )
    world = await make_world(
        plan, script, **TARGETS, **{"inbound.enabled": True, "inbound.policy": "open"}
    )
    sim = await world.carrier.place_inbound_call(
        from_number=CALLER, to_number=FROM_NUMBER, plan=plan
    )
    await sim.wait_for(lambda: sim.is_final, timeout=20)
    [dial] = sim.transfers
    assert (dial.number, dial.caller_id) == (BILLING, CALLER)
    status, listing = await world.api("GET", "/api/calls")
    assert status == 200
    [row] = listing["calls"]
    data = await world.wait_call(row["id"])
    record = data["call"]
    assert record["end_reason"] == "transferred"
    # The model's own report is kept; the outcome says where the call went.
    assert record["outcome"]["summary"] == "Wanted billing."
    assert record["outcome"]["success"] is False
    assert record["outcome"]["transferred_to"] == "Billing"


async def test_a_number_or_unknown_label_is_never_dialled(
    make_world: MakeWorld, carrier: str
) -> None:
    script = ModelScript(
        turns=(
            (CallTool("transfer_call", {"target": BILLING, "reason": "a number"}),),
            (CallTool("transfer_call", {"target": "the manager", "reason": "unknown"}),),
            (Say("Sorry, I cannot transfer you. Goodbye.", 400), CallTool("end_call", {})),
        ),
        caller_transcripts=callee_lines(PLAN),
    )
    world = await make_world(PLAN, script, **TARGETS)
    sim, data = await _outbound(world)

    assert sim.transfers == []
    session = world.model.last_session
    names = tool_names(session)
    results = [
        orjson.loads(item["output"])
        for _, item in function_outputs(session)
        if names[item["call_id"]] == "transfer_call"
    ]
    assert [r["ok"] for r in results] == [False, False]
    assert "unknown transfer target" in results[0]["error"]
    assert "'front desk'" in results[1]["error"]
    assert data["call"]["end_reason"] == "model-ended"
    assert _events(data, "transfer") == []
    assert len(_events(data, "tool.error")) == 2


async def test_no_targets_no_transfer_tool(make_world: MakeWorld) -> None:
    script = ModelScript(
        turns=((Say("Goodbye.", 300), CallTool("end_call", {"reason": "done"})),),
        caller_transcripts=callee_lines(PLAN),
    )
    world = await make_world(PLAN, script)
    await _outbound(world)
    session = world.model.last_session
    [update] = [e for e in session.received if e["type"] == "session.update"][:1]
    declared = [tool["name"] for tool in update["session"]["tools"]]
    assert "transfer_call" not in declared and "end_call" in declared
    assert "transfer_call" not in update["session"]["instructions"]


async def test_targets_declare_the_labels_only(make_world: MakeWorld) -> None:
    world = await make_world(PLAN, _script("front desk"), **TARGETS)
    await _outbound(world)
    session = world.model.last_session
    update = next(e for e in session.received if e["type"] == "session.update")
    [tool] = [t for t in update["session"]["tools"] if t["name"] == "transfer_call"]
    assert tool["parameters"]["properties"]["target"]["enum"] == ["front desk", "Billing"]
    assert FRONT_DESK not in orjson.dumps(update).decode()
    assert "transfer_call" in update["session"]["instructions"]


# Telnyx refuses the transfer command itself for a destination the account's outbound voice
# profile does not allow; the others accept the update and fail the dial later.
@pytest.mark.carriers("telnyx")
async def test_a_refused_transfer_ends_the_call_transfer_failed(
    make_world: MakeWorld, carrier: str
) -> None:
    world = await make_world(PLAN, _script("front desk"), **TARGETS)
    telnyx_of(world).refused_destinations = frozenset({FRONT_DESK})
    sim, data = await _outbound(world)

    assert sim.transfers == []
    assert sim.rest_hang_ups == ["completed"]  # the call is hung up, normally
    record = data["call"]
    assert record["end_reason"] == "transfer-failed"
    assert "Destination not allowed" in record["error"]
    [failed] = _events(data, "transfer.failed")
    assert failed["target"] == "front desk" and "403" in failed["error"]
    assert _events(data, "transfer") == [] and _system_lines(data) == []
    assert record["outcome"] is None


async def test_the_transfer_document_is_for_the_carrier_only(make_world: MakeWorld) -> None:
    """Our transfer URL (the document Plivo fetches) answers only a signed request: an
    unsigned one is refused before anything is looked up."""
    world = await make_world(PLAN, _script("front desk"), **TARGETS)
    url = world.server.local_url + "/voice/transfer?call=call_x&target=front+desk"
    async with aiohttp.ClientSession() as http, http.post(url, data={"CallUUID": "x"}) as reply:
        assert reply.status == 403
