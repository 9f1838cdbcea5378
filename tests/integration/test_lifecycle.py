"""How calls end and are kept: shutdown, status-callback ordering, the reaper, the store
written as things happen, and waiters woken by the settle itself."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from twilio.request_validator import RequestValidator

from tests.helpers.world import MakeWorld
from voicecall_rt.call import reaper as reaper_module
from voicecall_rt.call.bridge import CallBridge
from voicecall_rt.call.journal import ALL_CALLS
from voicecall_rt.call.records import CallRecord, CallStatus, now_ms
from voicecall_rt.simulator import world as sim
from voicecall_rt.simulator.scenario import (
    CallPlan,
    CallTool,
    ModelScript,
    Say,
    Speak,
    WaitForModel,
)
from voicecall_rt.simulator.sim_call import SimCall
from voicecall_rt.simulator.twilio import fake as twilio_fake
from voicecall_rt.simulator.twilio.carrier import FakeTwilio
from voicecall_rt.simulator.world import SimWorld
from voicecall_rt.store.sqlite.database import SqliteStore

TO = "+14155550123"
GREETING = "Hello, this is Maria at Tony's."


def _short_call() -> tuple[CallPlan, ModelScript]:
    """The callee greets; the model answers once and ends the call."""
    plan = CallPlan(
        ring_ms=100,
        answered_by="human",
        callee=(Speak(GREETING, 500), WaitForModel(quiet_ms=300)),
    )
    script = ModelScript(
        turns=(
            (
                Say("Hi Maria, thanks, that is all. Goodbye!", 400),
                CallTool("end_call", {"reason": "done"}),
            ),
        ),
        caller_transcripts=(GREETING,),
    )
    return plan, script


def _long_call() -> tuple[CallPlan, ModelScript]:
    """The callee greets, the model answers, then the line just stays up."""
    plan = CallPlan(
        ring_ms=100,
        answered_by="human",
        callee=(Speak(GREETING, 500), WaitForModel(quiet_ms=200)),
    )
    script = ModelScript(
        turns=((Say("Hi Maria, I am calling about a table for Friday.", 400),),),
        caller_transcripts=(GREETING,),
    )
    return plan, script


async def _next_entry(
    queue: asyncio.Queue[dict[str, Any]],
    match: Callable[[dict[str, Any]], bool],
    timeout_s: float = 10.0,
) -> dict[str, Any]:
    """The next live journal entry (from the hub) that `match`es."""
    async with asyncio.timeout(timeout_s):
        while True:
            entry = await queue.get()
            if match(entry):
                return entry


def _kind(kind: str, call_id: str | None = None) -> Callable[[dict[str, Any]], bool]:
    return lambda e: e["kind"] == kind and (call_id is None or e["call_id"] == call_id)


def _line(role: str, call_id: str) -> Callable[[dict[str, Any]], bool]:
    return lambda e: e["kind"] == "transcript" and e["role"] == role and e["call_id"] == call_id


def _status_hook(call: SimCall, status: str) -> Callable[[], bool]:
    """True once the carrier's status callback for `status` was delivered and answered."""
    return lambda: any(
        w.kind == "status" and w.params.get("CallStatus") == status and w.status == 204
        for w in call.webhooks
    )


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


async def _get(world: SimWorld, call_id: str, wait: float | None = None) -> dict[str, Any]:
    query = "" if wait is None else f"?wait={wait}"
    status, data = await world.api("GET", f"/api/calls/{call_id}{query}")
    assert status == 200, data
    result: dict[str, Any] = data
    return result


def _kinds(data: dict[str, Any]) -> list[str]:
    return [e["kind"] for e in data["events"]]


def _our_tasks() -> list[asyncio.Task[Any]]:
    """Live tasks running our server's code (the simulators' own are left out)."""
    current = asyncio.current_task()
    found = []
    for task in asyncio.all_tasks():
        if task is current or task.done():
            continue
        code = getattr(task.get_coro(), "cr_code", None)
        filename = code.co_filename if code is not None else ""
        if "voicecall_rt" in filename and "simulator" not in filename:
            found.append(task)
    return found


# ---- Ctrl-C: stopping the server ends every live call -----------------------------------


async def test_server_stop_ends_a_live_call_cleanly(make_world: MakeWorld) -> None:
    plan, script = _long_call()
    world = await make_world(plan, script)
    events = world.server.hub.follow(ALL_CALLS)
    call_id = await world.place(TO, "Book a table")
    sim_call = await world.carrier.wait_call()
    await _next_entry(events, _kind("stream.start", call_id))
    await _next_entry(events, _line("assistant", call_id))
    session = world.model.last_session
    assert sim_call.streaming and not session.closed.is_set()
    assert world.server.manager.is_active(call_id)
    data_dir = world.server.settings.data_dir

    await world.server.stop()  # what Ctrl-C on `serve` does

    # The carrier was told to hang up, with `completed` (what ends an answered call).
    hang_ups = [u for u in world.carrier.updates if u.call_sid == sim_call.sid]
    assert [(u.params.get("Status"), u.status) for u in hang_ups] == [(["completed"], 200)]
    async with asyncio.timeout(5):
        await session.closed.wait()
        await sim_call.ended.wait()
    assert not sim_call.streaming
    assert sim_call.statuses[-1] == "completed"
    assert _our_tasks() == []

    store = await SqliteStore.open(data_dir)
    try:
        record = await store.get_call(call_id)
        assert record is not None
        assert record.status is CallStatus.COMPLETED
        assert record.end_reason == "shutdown"
        assert record.ended_at is not None and record.answered_at is not None
        settled = await store.events(call_id, {"settled"})
        assert [e.data["status"] for e in settled] == ["completed"]
        roles = [line.role for line in await store.transcript(call_id)]
        assert "caller" in roles and "assistant" in roles
    finally:
        await store.close()
    # Stopping again (as the world's exit will) is harmless.
    await world.server.stop()


# ---- status callbacks never move a call backwards -----------------------------------------


async def test_ringing_status_is_stored_before_answer_and_never_undone(
    make_world: MakeWorld,
) -> None:
    plan = CallPlan(ring_ms=60_000, answered_by="human")
    world = await make_world(plan, ModelScript(), **{"calls.timeoutSeconds": 120})
    call_id = await world.place(TO, "Book a table")
    sim_call = await world.carrier.wait_call()
    await sim_call.wait_for(_status_hook(sim_call, "ringing"))

    data = await _get(world, call_id)
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
    data = await _get(world, call_id)
    assert data["call"]["status"] == "ringing"
    assert len(data["events"]) == before

    # Hanging up before answer: `completed` (it ends a call in any state), and the call,
    # hung up while ringing, ends `canceled`.
    status, body = await world.api("POST", f"/api/calls/{call_id}/hangup")
    assert status == 200, body
    final = await world.wait_call(call_id)
    assert final["call"]["status"] == "canceled"
    assert final["call"]["end_reason"] == "hangup-requested"
    updates = [u.params.get("Status") for u in world.carrier.updates if u.call_sid == sim_call.sid]
    assert updates == [["completed"]]
    assert world.model.sessions and all(s.closed.is_set() for s in world.model.sessions)


async def test_late_status_during_the_call_does_not_move_it_back(make_world: MakeWorld) -> None:
    plan, script = _long_call()
    world = await make_world(plan, script)
    events = world.server.hub.follow(ALL_CALLS)
    call_id = await world.place(TO, "Book a table")
    sim_call = await world.carrier.wait_call()
    await _next_entry(events, _kind("stream.start", call_id))
    data = await _get(world, call_id)
    assert data["call"]["status"] == "in-progress"
    before = len(data["events"])
    for late in ("initiated", "ringing", "in-progress"):
        assert await _post_status(world, call_id, sim_call.sid, late) == 204
    data = await _get(world, call_id)
    assert data["call"]["status"] == "in-progress"
    assert data["active"] is True
    assert len(data["events"]) == before
    assert sim_call.streaming


async def test_late_status_after_completed_changes_nothing(make_world: MakeWorld) -> None:
    plan, script = _short_call()
    world = await make_world(plan, script)
    call_id = await world.place(TO, "Say hello")
    sim_call = await world.carrier.wait_call()
    final = await world.wait_call(call_id)
    assert final["call"]["status"] == "completed"
    await sim_call.ended.wait()
    for late in ("ringing", "in-progress", "initiated", "busy", "failed"):
        assert await _post_status(world, call_id, sim_call.sid, late) == 204
    again = await _get(world, call_id)
    assert again["active"] is False
    assert again["call"] == final["call"]
    assert again["events"] == final["events"]


# ---- the reaper ---------------------------------------------------------------------------


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

    done = await _get(world, "call_answered")
    assert done["active"] is False
    assert done["call"]["status"] == "completed"
    assert "restart" in done["call"]["end_reason"]
    assert done["call"]["ended_at"] is not None
    assert [line["text"] for line in done["transcript"]] == ["Hello?"]

    never = await _get(world, "call_ringing")
    assert never["active"] is False
    assert never["call"]["status"] == "failed"
    assert "restart" in never["call"]["end_reason"]
    assert never["call"]["ended_at"] is not None

    status, listing = await world.api("GET", "/api/calls?active=1")
    assert status == 200 and listing["calls"] == []


async def test_reaper_settles_a_call_whose_final_status_was_lost(
    make_world: MakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan, script = _short_call()
    world = await make_world(plan, script, **{"calls.maxConcurrent": 1})
    lost = _drop_final_status(world.carrier, monkeypatch)
    events = world.server.hub.follow(ALL_CALLS)
    call_id = await world.place(TO, "Say hello")
    sim_call = await world.carrier.wait_call()
    await _bridge(world, call_id).wait_ended()
    await sim_call.ended.wait()
    assert lost == ["completed"]

    # The stream is over, but without the carrier's word the call still holds its slot.
    data = await _get(world, call_id)
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
    settled = await _next_entry(events, _kind("settled", call_id))
    assert settled["data"]["status"] == "completed"
    assert settled["data"]["reason"] == "no final status from the carrier"

    data = await _get(world, call_id)
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
    lost = _drop_final_status(world.carrier, monkeypatch)
    call_id = await world.place(TO, "Book a table")
    sim_call = await world.carrier.wait_call()
    await sim_call.wait_for(_status_hook(sim_call, "ringing"))
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
    updates = [u for u in world.carrier.updates if u.call_sid == sim_call.sid]
    assert [(u.params.get("Status"), u.status) for u in updates] == [(["completed"], 200)]
    async with asyncio.timeout(5):
        await session.closed.wait()
        await sim_call.ended.wait()
    assert lost == ["canceled"]  # what the carrier reports for a call hung up while ringing
    data = await _get(world, call_id)
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
    await sim_call.wait_for(_status_hook(sim_call, "ringing"))
    monkeypatch.setattr(reaper_module, "SETTLE_GRACE_S", 0.0)
    monkeypatch.setattr(reaper_module, "now_ms", lambda: now_ms() + 5_000)
    await world.server.manager.reap()
    await sim_call.ended.wait()
    await sim_call.wait_for(_status_hook(sim_call, "canceled"))
    data = await _get(world, call_id)
    assert data["call"]["status"] == "failed"
    assert data["call"]["end_reason"] == "never-connected"
    assert [e["data"]["status"] for e in data["events"] if e["kind"] == "settled"] == ["failed"]


# ---- the store is written as things happen -------------------------------------------------


async def test_store_has_the_live_call_before_it_ends(make_world: MakeWorld) -> None:
    plan, script = _long_call()
    world = await make_world(plan, script)
    events = world.server.hub.follow(ALL_CALLS)
    call_id = await world.place(TO, "Book a table")
    await _next_entry(events, _line("caller", call_id))
    await _next_entry(events, _line("assistant", call_id))
    # Batched writes are committed within a moment; flush waits for that moment only.
    await world.server.store.flush()

    other = await SqliteStore.open(world.server.settings.data_dir)  # another reader, from disk
    try:
        record = await other.get_call(call_id)
        assert record is not None
        assert record.status is CallStatus.IN_PROGRESS
        assert record.answered_at is not None and record.ended_at is None
        assert record.carrier_sid is not None
        lines = await other.transcript(call_id)
        assert [(line.role, line.text) for line in lines] == [
            ("caller", GREETING),
            ("assistant", "Hi Maria, I am calling about a table for Friday."),
        ]
        kinds = [e.kind for e in await other.events(call_id)]
        for kind in ("created", "placed", "answered", "model.ready", "stream.start"):
            assert kind in kinds, kinds
        assert "end" not in kinds and "settled" not in kinds
    finally:
        await other.close()
    assert world.server.manager.is_active(call_id)

    status, body = await world.api("POST", f"/api/calls/{call_id}/hangup")
    assert status == 200, body
    final = await world.wait_call(call_id)
    assert final["call"]["status"] == "completed"
    assert final["call"]["end_reason"] == "hangup-requested"


# ---- waiters -------------------------------------------------------------------------------


async def test_wait_returns_when_the_call_settles_not_at_the_deadline(
    make_world: MakeWorld,
) -> None:
    plan, script = _short_call()
    world = await make_world(plan, script)
    call_id = await world.place(TO, "Say hello")
    wait_s = 50.0
    loop = asyncio.get_running_loop()
    started = loop.time()
    data = await _get(world, call_id, wait=wait_s)
    elapsed = loop.time() - started
    # It returned because the call ended, with the call's final state.
    assert data["active"] is False
    assert data["call"]["status"] == "completed"
    assert data["call"]["end_reason"] == "model-ended"
    assert "settled" in _kinds(data)
    assert elapsed < wait_s / 2
    # A settled call answers at once; an unknown one is a 404 at once.
    started = loop.time()
    again = await _get(world, call_id, wait=wait_s)
    assert again["call"] == data["call"]
    status, _ = await world.api("GET", f"/api/calls/call_unknown?wait={wait_s}")
    assert status == 404
    assert loop.time() - started < wait_s / 2
