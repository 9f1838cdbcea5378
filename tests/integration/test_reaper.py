"""The reaper settles what the carrier never did: calls a crash left open (at startup), a
call whose final status was lost (after a grace period), and one that rang past its timeout
without connecting."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.helpers.call_lifecycle import (
    entry_kind,
    get_call,
    next_entry,
    short_call,
    status_delivered,
)
from tests.helpers.phone import TO
from tests.helpers.world import MakeWorld
from tests.helpers.world_carrier import twilio_of
from voicecall_rt.call import reaper as reaper_module
from voicecall_rt.call.bridge import CallBridge
from voicecall_rt.call.journal import ALL_CALLS
from voicecall_rt.call.records import CallRecord, CallStatus, now_ms
from voicecall_rt.simulator import world as sim
from voicecall_rt.simulator.scenario import CallPlan, ModelScript
from voicecall_rt.simulator.sim_call import SimCall
from voicecall_rt.simulator.twilio.carrier import FakeTwilio
from voicecall_rt.simulator.world import SimWorld
from voicecall_rt.store.sqlite.database import SqliteStore


def _drop_final_status(carrier: FakeTwilio, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The carrier's final status callbacks get lost on the way (what was lost is returned)."""
    lost: list[str] = []
    send = carrier._status_event

    def status_event(call: SimCall, event: str, status: str) -> None:
        if event == "completed":
            lost.append(status)
            return
        send(call, event, status)

    monkeypatch.setattr(carrier, "_status_event", status_event)
    return lost


def _bridge(world: SimWorld, call_id: str) -> CallBridge:
    active = world.server.manager.calls.get(call_id)
    assert active is not None
    return active.bridge


async def test_startup_reaper_settles_calls_left_open_by_a_crash(
    make_world: MakeWorld, tmp_path: Path
) -> None:
    data_dir = tmp_path / "crashed"
    store = await SqliteStore.open(data_dir)
    created = now_ms() - 120_000
    answered = CallRecord(
        id="call_answered",
        direction="outbound",
        from_number=sim.FROM_NUMBER,
        to_number=TO,
        task="Book a table",
        status=CallStatus.IN_PROGRESS,
        carrier_sid="CA" + "1" * 32,
        created_at=created,
        answered_at=created + 5_000,
    )
    ringing = CallRecord(
        id="call_ringing",
        direction="outbound",
        from_number=sim.FROM_NUMBER,
        to_number=TO,
        task="Book a table",
        status=CallStatus.RINGING,
        carrier_sid="CA" + "2" * 32,
        created_at=created,
    )
    store.insert_call(answered)
    store.insert_call(ringing)
    store.add_transcript("call_answered", 6_000, "caller", "Hello?")
    await store.close()

    world = await make_world(CallPlan(), ModelScript(), dataDir=str(data_dir))
    assert world.server.manager.active_count == 0

    done = await get_call(world, "call_answered")
    assert done["active"] is False
    assert done["call"]["status"] == "completed"
    assert "restart" in done["call"]["end_reason"]
    assert done["call"]["ended_at"] is not None
    assert [line["text"] for line in done["transcript"]] == ["Hello?"]

    never = await get_call(world, "call_ringing")
    assert never["active"] is False
    assert never["call"]["status"] == "failed"
    assert "restart" in never["call"]["end_reason"]
    assert never["call"]["ended_at"] is not None

    status, listing = await world.api("GET", "/api/calls?active=1")
    assert status == 200 and listing["calls"] == []


async def test_reaper_settles_a_call_whose_final_status_was_lost(
    make_world: MakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan, script = short_call()
    world = await make_world(plan, script, **{"calls.maxConcurrent": 1})
    lost = _drop_final_status(twilio_of(world), monkeypatch)
    events = world.server.hub.follow(ALL_CALLS)
    call_id = await world.place(TO, "Say hello")
    sim_call = await world.carrier.wait_call()
    await _bridge(world, call_id).wait_ended()
    await sim_call.ended.wait()
    assert lost == ["completed"]

    # The stream is over, but without the carrier's word the call still holds its slot.
    data = await get_call(world, call_id)
    assert data["active"] is True
    assert data["call"]["status"] == "in-progress"
    assert data["call"]["end_reason"] == "model-ended"
    status, refused = await world.api("POST", "/api/calls", {"to": TO, "task": "Again"})
    assert status == 429, refused
    # Within the grace period the reaper leaves it alone.
    await world.server.manager.reap()
    assert world.server.manager.is_active(call_id)

    monkeypatch.setattr(reaper_module, "SETTLE_GRACE_S", 0.0)
    await world.server.manager.reap()
    settled = await next_entry(events, entry_kind("settled", call_id))
    assert settled["data"]["status"] == "completed"
    assert settled["data"]["reason"] == "no final status from the carrier"

    data = await get_call(world, call_id)
    assert data["active"] is False
    assert data["call"]["status"] == "completed"
    assert data["call"]["end_reason"] == "model-ended"  # how the call itself ended
    stored = [e["data"] for e in data["events"] if e["kind"] == "settled"]
    assert stored == [{"status": "completed", "reason": "no final status from the carrier"}]
    # The slot is free again.
    second = await world.place(TO, "Again")
    assert world.server.manager.is_active(second)


async def test_reaper_cancels_a_call_that_never_connected(
    make_world: MakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = CallPlan(ring_ms=600_000, answered_by="human")
    world = await make_world(plan, ModelScript(), **{"calls.timeoutSeconds": 5})
    lost = _drop_final_status(twilio_of(world), monkeypatch)
    call_id = await world.place(TO, "Book a table")
    sim_call = await world.carrier.wait_call()
    await sim_call.wait_for(status_delivered(sim_call, "ringing"))
    await world.model.wait_for(lambda: bool(world.model.sessions))
    session = world.model.last_session
    # Pre-warmed: the model session is open while the phone rings.
    await world.model.wait_for(lambda: "session.update" in session.received_types())
    assert not session.closed.is_set()

    monkeypatch.setattr(reaper_module, "SETTLE_GRACE_S", 0.0)
    await world.server.manager.reap()  # not yet past the ring timeout
    assert world.server.manager.is_active(call_id)

    # Let the ring timeout pass without waiting for it: the reaper's clock runs ahead.
    timeout_ms = 5_000
    monkeypatch.setattr(reaper_module, "now_ms", lambda: now_ms() + timeout_ms)
    await world.server.manager.reap()

    assert not world.server.manager.is_active(call_id)
    updates = [u for u in twilio_of(world).updates if u.call_sid == sim_call.sid]
    assert [(u.params.get("Status"), u.status) for u in updates] == [(["completed"], 200)]
    async with asyncio.timeout(5):
        await session.closed.wait()
        await sim_call.ended.wait()
    assert lost == ["canceled"]  # what the carrier reports for a call hung up while ringing
    data = await get_call(world, call_id)
    assert data["active"] is False
    assert data["call"]["status"] == "failed"
    assert data["call"]["end_reason"] == "never-connected"
    assert data["call"]["answered_at"] is None


async def test_never_connected_is_failed_even_when_the_cancel_is_reported(
    make_world: MakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The carrier went quiet while ringing but does answer our cancel: the reaper's verdict
    (failed, never-connected) stands whichever arrives first."""
    plan = CallPlan(ring_ms=600_000, answered_by="human")
    world = await make_world(plan, ModelScript(), **{"calls.timeoutSeconds": 5})
    call_id = await world.place(TO, "Book a table")
    sim_call = await world.carrier.wait_call()
    await sim_call.wait_for(status_delivered(sim_call, "ringing"))
    monkeypatch.setattr(reaper_module, "SETTLE_GRACE_S", 0.0)
    monkeypatch.setattr(reaper_module, "now_ms", lambda: now_ms() + 5_000)
    await world.server.manager.reap()
    await sim_call.ended.wait()
    await sim_call.wait_for(status_delivered(sim_call, "canceled"))
    data = await get_call(world, call_id)
    assert data["call"]["status"] == "failed"
    assert data["call"]["end_reason"] == "never-connected"
    assert [e["data"]["status"] for e in data["events"] if e["kind"] == "settled"] == ["failed"]
