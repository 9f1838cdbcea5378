"""Draining for a rolling restart, in a simulated world: the probes, what a draining server
refuses, and the goodbye at the drain's deadline, on every carrier. The signals themselves,
with a real `serve` process, are in test_serve_drain.py."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from aiohttp import web

from tests.helpers.carriers import facts, how_answered
from tests.helpers.phone import TO, assert_goodbye_played, system_notes
from tests.helpers.world import MakeWorld
from voicecall_rt.call.admission import BUSY_MESSAGE
from voicecall_rt.call.drain import DRAIN_REASON, begin_drain, drain
from voicecall_rt.carrier.registry import build_carrier
from voicecall_rt.simulator.scenario import CallPlan, CallTool, ModelScript, Pause, Say, Speak
from voicecall_rt.simulator.world import FROM_NUMBER, SimWorld
from voicecall_rt.web.app import build_app

TASK = "Confirm Tuesday's appointment at three."
HELLO = "Hello, Maria speaking."
HI = "Hi Maria, I'm an AI assistant calling to confirm Tuesday at three."
GOODBYE = "I'm sorry, I have to end the call now. Goodbye!"
# Maria says hello, hears the model, then stays on the line: the call would go on.
STAYS_PLAN = CallPlan(ring_ms=100, callee=(Speak(HELLO, 400), Pause(60_000)))
# The goodbye's response also calls end_call, as a real model may: the call still ends as
# the drain's.
GOODBYE_SCRIPT = ModelScript(
    turns=((Say(HI, 500),), (Say(GOODBYE, 600), CallTool("end_call", {"reason": "asked to"}))),
    caller_transcripts=(HELLO,),
)
INBOUND = {"inbound.enabled": True, "inbound.policy": "open"}


async def _probe(http: aiohttp.ClientSession, world: SimWorld, path: str) -> tuple[int, Any]:
    # No Authorization header: the probes are open, like the webhooks.
    async with http.get(world.server.local_url + path) as response:
        assert response.headers["Cache-Control"] == "no-store"
        return response.status, await response.json()


async def test_probes_are_open_and_ready_turns_503_when_draining(
    make_world: MakeWorld, http: aiohttp.ClientSession
) -> None:
    world = await make_world(STAYS_PLAN, GOODBYE_SCRIPT)
    assert await _probe(http, world, "/live") == (200, {"live": True, "calls": 0})
    ready = await _probe(http, world, "/ready")
    assert ready == (200, {"ready": True, "draining": False, "calls": 0})

    assert begin_drain(world.server.manager) == 0
    ready = await _probe(http, world, "/ready")
    assert ready == (503, {"ready": False, "draining": True, "calls": 0})
    assert await _probe(http, world, "/live") == (200, {"live": True, "calls": 0})
    status, body = await world.api("POST", "/api/calls", {"to": TO, "task": TASK})
    assert status == 503 and body["error"]["code"] == "draining"
    assert world.carrier.calls == {}  # nothing was dialled
    status, listing = await world.api("GET", "/api/calls")
    assert status == 200 and listing["calls"] == []  # nor stored


async def test_ready_is_503_until_the_server_has_started(
    make_world: MakeWorld, http: aiohttp.ClientSession
) -> None:
    """The routes of a server whose start has not finished (its app built and listening,
    the server not yet done): live, but not ready."""
    world = await make_world(STAYS_PLAN, GOODBYE_SCRIPT)
    server = world.server
    carrier = build_carrier(server.settings)
    app = build_app(server.settings, server.manager, server.store, "unused-token", carrier)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        async with http.get(base + "/ready") as response:
            assert response.status == 503
            assert await response.json() == {"ready": False, "draining": False, "calls": 0}
        async with http.get(base + "/live") as response:
            assert response.status == 200
    finally:
        await runner.cleanup()
        await carrier.close()


async def test_inbound_call_while_draining_hears_busy(make_world: MakeWorld, carrier: str) -> None:
    world = await make_world(STAYS_PLAN, GOODBYE_SCRIPT, **INBOUND)
    begin_drain(world.server.manager)
    call = await world.carrier.place_inbound_call(
        from_number="+14155550177", to_number=FROM_NUMBER, plan=STAYS_PLAN
    )
    async with asyncio.timeout(20):
        await call.ended.wait()
    assert how_answered(world, call) == "busy"
    assert call.said == ([BUSY_MESSAGE] if facts(carrier).says_busy else [])
    assert world.model.sessions == []  # no model was opened for it
    status, listing = await world.api("GET", "/api/calls")
    assert status == 200 and listing["calls"] == []


async def test_drain_deadline_has_the_model_say_goodbye_then_hangs_up(
    make_world: MakeWorld, carrier: str
) -> None:
    world = await make_world(STAYS_PLAN, GOODBYE_SCRIPT)
    call_id = await world.place(TO, TASK)
    sim = await world.carrier.wait_call()
    await sim.wait_for(lambda: sim.played_ms >= 300)  # the model is talking with Maria
    manager = world.server.manager
    assert begin_drain(manager) == 1
    async with asyncio.timeout(40):
        assert await drain(manager, 0.2) is False  # the call did not end by itself
    data = await world.wait_call(call_id)

    record = data["call"]
    assert record["status"] == "completed"
    assert record["end_reason"] == DRAIN_REASON
    assert_goodbye_played(data, sim, [HI, GOODBYE])
    notes = [note for _, note in system_notes(world.model.last_session)]
    assert any("shutting down" in note for note in notes), notes


async def test_drain_deadline_hangs_up_a_call_still_ringing(
    make_world: MakeWorld, carrier: str
) -> None:
    world = await make_world(CallPlan(ring_ms=60_000), GOODBYE_SCRIPT)
    call_id = await world.place(TO, TASK)
    sim = await world.carrier.wait_call()
    manager = world.server.manager
    begin_drain(manager)
    async with asyncio.timeout(40):
        assert await drain(manager, 0) is False
    record = (await world.wait_call(call_id))["call"]
    assert record["end_reason"] == DRAIN_REASON
    assert record["status"] == "canceled"  # never answered
    # Ended at the carrier: a hang-up (`completed`), or Plivo's cancel of a dial (`canceled`).
    assert sim.rest_hang_ups == ["canceled" if carrier == "plivo" else "completed"]
    assert not sim.answered
    assert world.model.last_session.closed.is_set()  # the pre-warmed model is let go
