"""A call outlives its model session: a dropped socket or the 60-minute cap renews it.

The fake model ends sessions the way the real one does (a socket that dies, or `error`
`session_expired` then close 1001 at the end of the session's life). The bridge opens a
new session with the same configuration, replays the conversation as text, and flushes
the caller audio that waited, in order. Only account errors end the call.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers.world import MakeWorld
from voicecall_rt.simulator.openai.session import FakeSession
from voicecall_rt.simulator.scenario import (
    CallPlan,
    CallTool,
    ModelScript,
    Pause,
    Say,
    Speak,
    WaitForModel,
)
from voicecall_rt.simulator.world import SimWorld

TO = "+14155550123"
TASK = "Book a table for two tonight at 8pm under the name Kim."
OUTCOME = {"success": True, "summary": "Booked for two at 8 pm.", "details": {"ref": "12"}}

CALLEE = (
    Speak("Hello, Luigi's.", 300),
    WaitForModel(quiet_ms=200),
    Pause(1500),  # the model session is lost here
    Speak("Booked, reference one two.", 300),
    WaitForModel(quiet_ms=200),
)
SCRIPT = ModelScript(
    turns=(
        (Say("Hi, a table for two tonight at eight, please.", 400),),
        (Say("Thank you!", 300), CallTool("report_outcome", OUTCOME)),
        (Say("Goodbye!", 300), CallTool("end_call", {"reason": "booked"})),
    ),
    caller_transcripts=("Hello, Luigi's.", "Booked, reference one two."),
)


def _appends(session: FakeSession) -> int:
    return sum(1 for e in session.received if e["type"] == "input_audio_buffer.append")


def _replayed(session: FakeSession) -> list[dict[str, Any]]:
    """The conversation items a session was given before any caller audio."""
    items = []
    for event in session.received:
        if event["type"] == "input_audio_buffer.append":
            break
        if event["type"] == "conversation.item.create":
            items.append(event["item"])
    return items


async def _metrics(world: SimWorld) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    headers = {"Authorization": f"Bearer {world.server.api_token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(world.server.local_url + "/metrics", headers=headers) as response,
    ):
        text = await response.text()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _events(data: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["data"] for e in data["events"] if e["kind"] == kind]


async def _first_reply_heard(world: SimWorld) -> None:
    await world.model.wait_for(
        lambda: (
            bool(world.model.sessions)
            and world.model.turns_played >= 1
            and world.model.last_session.active_response_id is None
        )
    )


async def test_a_dropped_socket_is_renewed_and_the_call_goes_on(make_world: MakeWorld) -> None:
    world = await make_world(CallPlan(ring_ms=100, callee=CALLEE), SCRIPT)
    call_id = await world.place(TO, TASK)
    sim = await world.carrier.wait_call()
    await _first_reply_heard(world)
    first = world.model.last_session
    await sim.wait_for(lambda: any(line for line in sim.received if line.get("event") == "mark"))
    await world.model.drop_sessions()
    data = await world.wait_call(call_id, timeout_s=30)

    record = data["call"]
    assert record["end_reason"] == "model-ended"  # the call finished its job
    assert record["outcome"]["success"] is True
    assert len(world.model.sessions) == 2
    second = world.model.sessions[1]

    # The same configuration, event id aside.
    def update(session: FakeSession) -> dict[str, Any]:
        event = next(e for e in session.received if e["type"] == "session.update")
        return dict(event["session"])

    assert update(second) == update(first)
    # The conversation so far, as text, before the caller's audio.
    replay = _replayed(second)
    said = [(item["role"], item["content"][0]["text"]) for item in replay]
    assert ("user", "Hello, Luigi's.") in said
    assert ("assistant", "Hi, a table for two tonight at eight, please.") in said
    assert said.index(("user", "Hello, Luigi's.")) < said.index(
        ("assistant", "Hi, a table for two tonight at eight, please.")
    )
    # The caller's next words reached the new session and were answered there.
    assert [line["text"] for line in data["transcript"] if line["role"] == "caller"] == [
        "Hello, Luigi's.",
        "Booked, reference one two.",
    ]
    (lost,) = _events(data, "model.lost")
    assert lost["cause"] == "lost"
    (renewed,) = _events(data, "model.renewed")
    assert renewed["cause"] == "lost" and renewed["gap_ms"] >= 0
    assert renewed["replayed_items"] == len(replay)
    # Caller audio that arrived during the gap went to the new session first, in order;
    # nothing the bridge held was dropped.
    (end,) = _events(data, "end")
    assert end["dropped_frames"] == 0
    # What the lost session had not committed went again to the new one first (the
    # benchmark's renewal probe counts every frame by its marker: none lost).
    resent = renewed["resent_frames"]
    assert resent > 0
    assert _appends(second) >= renewed["buffered_frames"] + resent
    assert _appends(first) + _appends(second) - resent <= end["frames_in"]
    # Counted for whoever runs the server.
    metric = await _metrics(world)
    assert metric[("voicecall_model_renewals_total", (("cause", "lost"),))] == 1
    assert metric[("voicecall_model_renewal_gap_seconds_count", ())] == 1
    assert metric[("voicecall_model_renewal_gap_seconds_sum", ())] == renewed["gap_ms"] / 1000


async def test_renewal_ahead_of_the_session_s_end_loses_nothing(make_world: MakeWorld) -> None:
    world = await make_world(CallPlan(ring_ms=100, callee=CALLEE), SCRIPT)
    world.model.session_lifetime_s = 4.0
    call_id = await world.place(TO, TASK)
    data = await world.wait_call(call_id, timeout_s=30)

    assert data["call"]["end_reason"] == "model-ended"
    assert len(world.model.sessions) >= 2
    first, second = world.model.sessions[0], world.model.sessions[1]
    # Replaced before its end: the server never had to expire it.
    assert not any(
        e["type"] == "error" and e["error"]["code"] == "session_expired" for e in first.sent
    )
    renewed = _events(data, "model.renewed")
    assert renewed and renewed[0]["cause"] == "ahead"
    assert renewed[0]["buffered_frames"] == 0
    # Every caller frame went to one session or the other, none twice, none lost. A later
    # session can still run out before its own early replacement is ready (a loaded
    # machine opens sessions slowly): the frames it had not committed then go again to the
    # next one, on purpose, and are counted as resent.
    (end,) = _events(data, "end")
    assert end["dropped_frames"] == 0
    resent = sum(e["resent_frames"] for e in renewed if e["cause"] != "ahead")
    assert all(e["resent_frames"] == 0 for e in renewed if e["cause"] == "ahead")
    assert sum(_appends(s) for s in world.model.sessions) == end["frames_in"] + resent
    assert _replayed(second)  # the new session was told the conversation so far


async def test_an_expired_session_is_renewed(make_world: MakeWorld) -> None:
    """When the early replacement fails (OpenAI overloaded), the session runs to its end:
    `session_expired`, close 1001, and the call goes on in a new session."""
    callee = (
        Speak("Hello, Luigi's.", 300),
        WaitForModel(quiet_ms=200),
        Pause(10_000),  # the session (10 s) expires in here
        Speak("Booked, reference one two.", 300),
        WaitForModel(quiet_ms=200),
    )
    world = await make_world(CallPlan(ring_ms=100, callee=callee), SCRIPT)
    # Long enough that the early tries (from 3/4 of its life, ~0.75 s of retries) are all
    # over well before the end, however loaded the machine.
    world.model.session_lifetime_s = 10.0
    call_id = await world.place(TO, TASK)
    await _first_reply_heard(world)
    world.model.refuse_next = 3  # every try of the renewal ahead of the end (at ~7 s)
    data = await world.wait_call(call_id, timeout_s=30)

    assert data["call"]["end_reason"] == "model-ended"
    assert data["call"]["outcome"]["success"] is True
    first = world.model.sessions[0]
    assert any(e["type"] == "error" and e["error"]["code"] == "session_expired" for e in first.sent)
    (failed,) = _events(data, "model.renew_failed")
    assert "503" in failed["error"]
    (lost,) = _events(data, "model.lost")
    assert lost["cause"] == "expired"
    (renewed,) = _events(data, "model.renewed")
    assert renewed["cause"] == "expired"
    # The expiry was an event of the session, not an error of the call's.
    assert _events(data, "model.fatal") == [] and _events(data, "model.error") == []
