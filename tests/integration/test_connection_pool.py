"""The model-side HTTP pool never caps concurrent calls below calls.maxConcurrent.

Each live call holds one model WebSocket from the server's client session; aiohttp's
default pool of 100 connections made call 101 wait and fail (seen in the benchmark at
N=200). The benchmark shows the behaviour; this pins the setting.
"""

from __future__ import annotations

from tests.integration.conftest import MakeWorld
from voicecall_rt.simulator.scenarios import pizza_booking


async def test_pool_admits_every_allowed_call(make_world: MakeWorld) -> None:
    scenario = pizza_booking(scale=0.3)
    world = await make_world(scenario.carrier, scenario.model, **{"calls.maxConcurrent": 500})
    connector = world.server._http.connector  # type: ignore[union-attr]
    assert connector is not None
    assert connector.limit == 0 or connector.limit >= 500
    assert connector.limit_per_host == 0 or connector.limit_per_host >= 500
