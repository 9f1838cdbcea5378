"""Writing debug recordings at the end of a call must not lose what the bridge stores last."""

from __future__ import annotations

from tests.helpers.world import MakeWorld
from voicecall_rt.simulator.scenarios import pizza_booking


async def test_debug_call_keeps_usage_outcome_and_cost(make_world: MakeWorld) -> None:
    scenario = pizza_booking(scale=0.3)
    world = await make_world(scenario.carrier, scenario.model, debug=True)
    call_id = await world.place(scenario.to_number, scenario.task)
    data = await world.wait_call(call_id)
    record = data["call"]
    assert record["status"] == "completed"
    # usage reported by the model's response.done events, summed by the bridge
    sent = sum(
        response["usage"]["total_tokens"]
        for session in world.model.sessions
        for response in session.responses
        if response.get("usage")
    )
    assert record["usage"] is not None and record["usage"]["total_tokens"] == sent > 0
    assert record["outcome"]["success"] is True
    assert record["ended_at"] is not None
    assert record["cost"]["model_usd"] > 0
