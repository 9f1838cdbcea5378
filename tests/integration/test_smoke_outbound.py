"""The main path in one test: an outbound call placed through the local API completes."""

from __future__ import annotations

from tests.helpers.world import MakeWorld
from voicecall_rt.simulator.scenarios import pizza_booking


async def test_outbound_call_completes_with_outcome(make_world: MakeWorld, carrier: str) -> None:
    scenario = pizza_booking(scale=0.3)
    world = await make_world(scenario.carrier, scenario.model)
    call_id = await world.place(scenario.to_number, scenario.task)
    data = await world.wait_call(call_id)
    record = data["call"]
    assert record["status"] == "completed"
    assert record["end_reason"] == "model-ended"
    assert record["outcome"]["success"] is True
    assert record["outcome"]["details"]["confirmation"] == "4472"
    lines = data["transcript"]
    roles = [line["role"] for line in lines]
    assert roles.count("caller") == 5 and roles.count("assistant") == 5
    assert [line["text"] for line in lines if line["role"] == "system"] == ["pressed 1"]
    interrupted = [line for line in lines if line["interrupted"]]
    assert len(interrupted) == 1 and interrupted[0]["text"].startswith("Hi Maria!")
    assert [e["kind"] for e in data["events"]].count("barge_in") == 1
