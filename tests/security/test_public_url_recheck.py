"""publicUrl's DNS is checked again before every call: a name that starts resolving into
a private network (DNS rebinding) stops calls before anything is dialled."""

from __future__ import annotations

from tests.helpers.world import MakeWorld
from voicecall_rt.simulator.scenarios import pizza_booking


async def test_call_refused_when_public_url_now_resolves_privately(
    make_world: MakeWorld, carrier: str
) -> None:
    scenario = pizza_booking(scale=0.3)
    world = await make_world(scenario.carrier, scenario.model)
    answers = {"now": ["93.184.215.14"]}

    async def changing_resolver(host: str) -> list[str]:
        return answers["now"]

    world.server.manager._resolver = changing_resolver
    answers["now"] = ["93.184.215.14", "10.0.0.5"]  # one private address is enough
    status, body = await world.api("POST", "/api/calls", {"to": scenario.to_number, "task": "x"})
    assert status == 503
    assert body["error"]["code"] == "public-url" and "10.0.0.5" in body["error"]["message"]
    assert world.carrier.calls == {}  # nothing dialled
    assert world.server.manager.active_count == 0  # the slot was given back
    stored = (await world.api("GET", "/api/calls"))[1]["calls"]
    assert stored[0]["status"] == "failed" and "publicUrl" in stored[0]["error"]

    answers["now"] = ["93.184.215.14"]  # public again: calls go through
    call_id = await world.place(scenario.to_number, scenario.task)
    assert (await world.wait_call(call_id))["call"]["status"] == "completed"
