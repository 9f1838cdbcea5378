"""What the webhook security tests aim at: a world taking inbound calls (any caller), whose
callee listens and whose model greets once, and its one call read back to prove that a
refused request changed nothing."""

from __future__ import annotations

from typing import Any

from voicecall_rt.simulator.scenario import CallPlan, ModelScript, Say, WaitForModel
from voicecall_rt.simulator.world import SimWorld

OPEN = {"inbound.enabled": True, "inbound.policy": "open"}
LISTEN_PLAN = CallPlan(callee=(WaitForModel(quiet_ms=200),))
GREET_ONLY = ModelScript(turns=((Say("Hello, you're through to the assistant.", 300),),))


async def one_call(world: SimWorld) -> dict[str, Any]:
    """The world's only call as the API lists it, less what the clock changes."""
    status, data = await world.api("GET", "/api/calls")
    assert status == 200
    [call] = data["calls"]
    call.pop("duration_s")  # computed from the clock while the call is live
    return dict(call)
