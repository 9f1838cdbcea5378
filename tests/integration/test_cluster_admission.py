"""One limit for all, with real `serve` processes on one PostgreSQL: calls.maxConcurrent
holds across the instances under a burst of requests spread over them, and an inbound call
at the limit hears busy from whichever instance the balancer hands it to."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.helpers.cluster_world import OPEN_INBOUND, cluster_world
from tests.helpers.phone import TO
from voicecall_rt.call.admission import BUSY_MESSAGE
from voicecall_rt.simulator.scenario import CallPlan, ModelScript, Pause

pytestmark = pytest.mark.slow  # real `serve` child processes, calls in real time

LIMIT = 3
REQUESTS = 8
# The callees let it ring: each placed call stays live (holding its slot) while the test
# looks, and no model turn is needed.
RINGS = CallPlan(ring_ms=25_000)
CALLER = "+14155550177"


async def test_a_burst_over_two_instances_places_exactly_the_limit(
    tmp_path: Path, pg_url: str
) -> None:
    settings = {"calls.maxConcurrent": LIMIT, **OPEN_INBOUND}
    async with cluster_world(tmp_path, pg_url, RINGS, ModelScript(), settings=settings) as world:
        names = list(world.instances)
        results = await asyncio.gather(
            *(world.place(names[i % len(names)], TO) for i in range(REQUESTS))
        )
        placed = [body for status, body in results if status == 201]
        refused = [(status, body) for status, body in results if status != 201]
        assert len(placed) == LIMIT, results
        assert len(refused) == REQUESTS - LIMIT
        assert all(
            status == 429 and body["error"]["code"] == "limit" for status, body in refused
        ), refused
        # The carrier was asked to dial exactly the admitted calls, and the database holds
        # no row beyond them, live or refused.
        assert len(world.carrier.calls) == LIMIT
        rows = await world.fetch("SELECT id, owner, status FROM calls")
        assert {row["id"] for row in rows} == {body["call"]["id"] for body in placed}
        assert len(await world.live_calls()) == LIMIT
        assert {row["owner"] for row in rows} <= set(names)

        # Someone dials in while every slot is taken: busy, from whichever instance.
        inbound = await world.carrier.place_inbound_call(
            from_number=CALLER, to_number=world.carrier.owned_numbers[0], plan=RINGS
        )
        await inbound.ended.wait()
        assert inbound.said == [BUSY_MESSAGE]
        assert inbound.stream_url is None
        assert len(await world.fetch("SELECT id FROM calls")) == LIMIT
        sent = [hook for hook in inbound.webhooks if hook.kind == "voice"]
        assert [hook.status for hook in sent] == [200]


async def test_a_freed_slot_is_taken_through_the_other_instance(
    tmp_path: Path, pg_url: str
) -> None:
    stays = CallPlan(ring_ms=100, callee=(Pause(60_000),))
    settings = {"calls.maxConcurrent": 1}
    async with cluster_world(tmp_path, pg_url, stays, ModelScript(), settings=settings) as world:
        call_id, sim = await world.place_call("a", TO)
        status, body = await world.place("b", TO)
        assert (status, body["error"]["code"]) == (429, "limit")
        # The callee hangs up on a's call; its slot is free for b at once.
        await sim.wait_status("in-progress", 10)
        await sim.hang_up()
        assert (await world.settled(call_id, 10))["status"] == "completed"
        status, second = await world.place("b", TO)
        assert status == 201, second
        assert (await world.call(second["call"]["id"]))["owner"] == "b"
