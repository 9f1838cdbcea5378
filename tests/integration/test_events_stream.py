"""GET /api/calls/{id}/events: a call's journal as server-sent events, history then live."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from tests.helpers.world import MakeWorld
from voicecall_rt.simulator.scenarios import pizza_booking
from voicecall_rt.simulator.world import SimWorld


async def _read_events(world: SimWorld, call_id: str, token: str | None = None) -> list[Any]:
    headers = {"Authorization": f"Bearer {token or world.server.api_token}"}
    events: list[tuple[str, dict[str, Any]]] = []
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{world.server.local_url}/api/calls/{call_id}/events", headers=headers) as resp,
    ):
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        kind = ""
        async for raw in resp.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                events.append((kind, orjson.loads(line[6:])))
    return events


async def test_live_follower_sees_the_whole_call_once(make_world: MakeWorld) -> None:
    scenario = pizza_booking(scale=0.3)
    world = await make_world(scenario.carrier, scenario.model)
    call_id = await world.place(scenario.to_number, scenario.task)
    events = await _read_events(world, call_id)  # returns only when the call has settled

    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "end"
    final = events[-1][1]["call"]
    assert final["status"] == "completed" and final["outcome"]["success"] is True
    lines = [data for kind, data in events if kind == "transcript"]
    stored = (await world.wait_call(call_id))["transcript"]
    # every stored line exactly once, with its text
    assert sorted(line["seq"] for line in lines) == sorted(line["seq"] for line in stored)
    assert {line["text"] for line in lines} == {line["text"] for line in stored}
    journal = [data for kind, data in events if kind not in ("transcript", "end", "call.status")]
    seqs = [data["seq"] for data in journal]
    assert len(seqs) == len(set(seqs)), "an event was sent twice"
    for needed in ("outcome", "dtmf", "barge_in", "tool", "end", "settled"):
        assert needed in kinds, needed
    assert any(
        data["data"]["status"] == "completed" for kind, data in events if kind == "call.status"
    )


async def test_late_follower_gets_history_and_end(make_world: MakeWorld) -> None:
    scenario = pizza_booking(scale=0.3)
    world = await make_world(scenario.carrier, scenario.model)
    call_id = await world.place(scenario.to_number, scenario.task)
    settled = await world.wait_call(call_id)
    events = await _read_events(world, call_id)
    assert events[-1][0] == "end"
    assert len([1 for kind, _ in events if kind == "transcript"]) == len(settled["transcript"])
    assert [e for e in events if e[0] == "settled"], "the history includes the settlement"


async def test_events_need_the_token_and_a_real_call(make_world: MakeWorld) -> None:
    scenario = pizza_booking(scale=0.3)
    world = await make_world(scenario.carrier, scenario.model)
    async with aiohttp.ClientSession() as http:
        url = f"{world.server.local_url}/api/calls/call_0000000000000000/events"
        async with http.get(url) as resp:
            assert resp.status == 401
        headers = {"Authorization": f"Bearer {world.server.api_token}"}
        async with http.get(url, headers=headers) as resp:
            assert resp.status == 404
