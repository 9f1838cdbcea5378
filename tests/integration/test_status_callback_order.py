"""Status callbacks never move a call backwards: ringing is stored before the answer and
never undone, and a late, replayed or out-of-order status during or after the call changes
nothing."""

from __future__ import annotations

import aiohttp
from twilio.request_validator import RequestValidator

from tests.helpers.call_lifecycle import (
    entry_kind,
    get_call,
    long_call,
    next_entry,
    short_call,
    status_delivered,
)
from tests.helpers.phone import TO
from tests.helpers.world import MakeWorld
from tests.helpers.world_carrier import twilio_of
from voicecall_rt.call.journal import ALL_CALLS
from voicecall_rt.simulator import world as sim
from voicecall_rt.simulator.scenario import CallPlan, ModelScript
from voicecall_rt.simulator.twilio import fake as twilio_fake
from voicecall_rt.simulator.world import SimWorld


async def _post_status(
    world: SimWorld, call_id: str, call_sid: str, status: str, sequence: int = 99
) -> int:
    """A status callback signed exactly as Twilio signs it (a replayed or late one)."""
    path = f"/voice/status?call={call_id}"
    params = {
        "AccountSid": twilio_fake.ACCOUNT_SID,
        "CallSid": call_sid,
        "CallStatus": status,
        "Direction": "outbound-api",
        "From": sim.FROM_NUMBER,
        "To": TO,
        "SequenceNumber": str(sequence),
        "CallbackSource": "call-progress-events",
    }
    signature = RequestValidator(twilio_fake.AUTH_TOKEN).compute_signature(
        sim.PUBLIC_URL + path, params
    )
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            world.server.local_url + path,
            data=params,
            headers={"X-Twilio-Signature": signature},
        ) as response,
    ):
        return response.status


async def test_ringing_status_is_stored_before_answer_and_never_undone(
    make_world: MakeWorld,
) -> None:
    plan = CallPlan(ring_ms=60_000, answered_by="human")
    world = await make_world(plan, ModelScript(), **{"calls.timeoutSeconds": 120})
    call_id = await world.place(TO, "Book a table")
    sim_call = await world.carrier.wait_call()
    await sim_call.wait_for(status_delivered(sim_call, "ringing"))

    data = await get_call(world, call_id)
    assert data["active"] is True
    assert data["call"]["status"] == "ringing"
    assert data["call"]["carrier_sid"] == sim_call.sid
    assert data["call"]["answered_at"] is None
    statuses = [e["data"]["status"] for e in data["events"] if e["kind"] == "status"]
    assert statuses[-1] == "ringing"

    # A late `initiated` (stored as queued) or a replayed `ringing` changes nothing.
    before = len(data["events"])
    assert await _post_status(world, call_id, sim_call.sid, "initiated", 0) == 204
    assert await _post_status(world, call_id, sim_call.sid, "queued", 0) == 204
    assert await _post_status(world, call_id, sim_call.sid, "ringing", 1) == 204
    data = await get_call(world, call_id)
    assert data["call"]["status"] == "ringing"
    assert len(data["events"]) == before

    # Hanging up before answer: `completed` (it ends a call in any state), and the call,
    # hung up while ringing, ends `canceled`.
    status, body = await world.api("POST", f"/api/calls/{call_id}/hangup")
    assert status == 200, body
    final = await world.wait_call(call_id)
    assert final["call"]["status"] == "canceled"
    assert final["call"]["end_reason"] == "hangup-requested"
    updates = [
        u.params.get("Status") for u in twilio_of(world).updates if u.call_sid == sim_call.sid
    ]
    assert updates == [["completed"]]
    assert world.model.sessions and all(s.closed.is_set() for s in world.model.sessions)


async def test_late_status_during_the_call_does_not_move_it_back(make_world: MakeWorld) -> None:
    plan, script = long_call()
    world = await make_world(plan, script)
    events = world.server.hub.follow(ALL_CALLS)
    call_id = await world.place(TO, "Book a table")
    sim_call = await world.carrier.wait_call()
    await next_entry(events, entry_kind("stream.start", call_id))
    data = await get_call(world, call_id)
    assert data["call"]["status"] == "in-progress"
    before = len(data["events"])
    for late in ("initiated", "ringing", "in-progress"):
        assert await _post_status(world, call_id, sim_call.sid, late) == 204
    data = await get_call(world, call_id)
    assert data["call"]["status"] == "in-progress"
    assert data["active"] is True
    assert len(data["events"]) == before
    assert sim_call.streaming


async def test_late_status_after_completed_changes_nothing(make_world: MakeWorld) -> None:
    plan, script = short_call()
    world = await make_world(plan, script)
    call_id = await world.place(TO, "Say hello")
    sim_call = await world.carrier.wait_call()
    final = await world.wait_call(call_id)
    assert final["call"]["status"] == "completed"
    await sim_call.ended.wait()
    for late in ("ringing", "in-progress", "initiated", "busy", "failed"):
        assert await _post_status(world, call_id, sim_call.sid, late) == 204
    again = await get_call(world, call_id)
    assert again["active"] is False
    assert again["call"] == final["call"]
    assert again["events"] == final["events"]
