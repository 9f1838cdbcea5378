"""The main path in one test: an outbound call placed through the local API completes."""

from __future__ import annotations

from tests.integration.conftest import MakeWorld
from voicecall_rt.simulator.scenarios import pizza_booking


async def test_outbound_call_completes_with_outcome(make_world: MakeWorld) -> None:
    scenario = pizza_booking(scale=0.3)
    world = await make_world(scenario.carrier, scenario.model)
    call_id = await world.place(scenario.to_number, scenario.task)
    data = await world.wait_call(call_id)
    record = data["call"]
    assert record["status"] == "completed"
    assert record["end_reason"] == "model-ended"
    assert record["outcome"]["success"] is True
    assert record["outcome"]["details"]["confirmation"] == "4472"
    roles = [line["role"] for line in data["transcript"]]
    assert roles.count("caller") == 3 and roles.count("assistant") == 4
