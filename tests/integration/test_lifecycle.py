"""How calls end and are kept: shutdown ends every live call, the store is written as things
happen, and waiters are woken by the settle itself."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.helpers.call_lifecycle import (
    GREETING,
    entry_kind,
    get_call,
    long_call,
    next_entry,
    short_call,
    transcript_line,
)
from tests.helpers.phone import TO
from tests.helpers.world import MakeWorld
from tests.helpers.world_carrier import twilio_of
from voicecall_rt.call.journal import ALL_CALLS
from voicecall_rt.call.records import CallStatus
from voicecall_rt.store.sqlite.database import SqliteStore


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
    plan, script = long_call()
    world = await make_world(plan, script)
    events = world.server.hub.follow(ALL_CALLS)
    call_id = await world.place(TO, "Book a table")
    sim_call = await world.carrier.wait_call()
    await next_entry(events, entry_kind("stream.start", call_id))
    await next_entry(events, transcript_line("assistant", call_id))
    session = world.model.last_session
    assert sim_call.streaming and not session.closed.is_set()
    assert world.server.manager.is_active(call_id)
    data_dir = world.server.settings.data_dir

    await world.server.stop()  # what Ctrl-C on `serve` does

    # The carrier was told to hang up, with `completed` (what ends an answered call).
    hang_ups = [u for u in twilio_of(world).updates if u.call_sid == sim_call.sid]
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


# ---- the store is written as things happen -------------------------------------------------


async def test_store_has_the_live_call_before_it_ends(make_world: MakeWorld) -> None:
    plan, script = long_call()
    world = await make_world(plan, script)
    events = world.server.hub.follow(ALL_CALLS)
    call_id = await world.place(TO, "Book a table")
    await next_entry(events, transcript_line("caller", call_id))
    await next_entry(events, transcript_line("assistant", call_id))
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
    plan, script = short_call()
    world = await make_world(plan, script)
    call_id = await world.place(TO, "Say hello")
    wait_s = 50.0
    loop = asyncio.get_running_loop()
    started = loop.time()
    data = await get_call(world, call_id, wait=wait_s)
    elapsed = loop.time() - started
    # It returned because the call ended, with the call's final state.
    assert data["active"] is False
    assert data["call"]["status"] == "completed"
    assert data["call"]["end_reason"] == "model-ended"
    assert "settled" in _kinds(data)
    assert elapsed < wait_s / 2
    # A settled call answers at once; an unknown one is a 404 at once.
    started = loop.time()
    again = await get_call(world, call_id, wait=wait_s)
    assert again["call"] == data["call"]
    status, _ = await world.api("GET", f"/api/calls/call_unknown?wait={wait_s}")
    assert status == 404
    assert loop.time() - started < wait_s / 2
