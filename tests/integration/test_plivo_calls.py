"""Whole calls on the fake Plivo (`SimWorld(carrier="plivo")`): the pizzeria call, an
inbound call, a barge-in whose cleared checkpoints Plivo never answers, a forged webhook."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.helpers.phone import TASK, TO
from tests.helpers.plivo_world import plivo_world
from voicecall_rt.simulator.plivo.media_stream import PlivoStream
from voicecall_rt.simulator.scenario import (
    CallPlan,
    CallTool,
    ModelScript,
    Pause,
    Say,
    Speak,
    WaitForModel,
    callee_lines,
)
from voicecall_rt.simulator.scenarios import pizza_booking
from voicecall_rt.simulator.world import FROM_NUMBER

CALLER = "+14155550177"
GREETING = "Tony's Pizza, Maria speaking. What can I get you?"
ORDER = "A large margherita for pickup, please."
OPEN = {"inbound.enabled": True, "inbound.policy": "open", "inbound.greeting": GREETING}
END = CallTool("end_call", {"reason": "done"})
LONG_ANSWER = Say(
    "Hi! I'm an AI assistant calling on behalf of Alex Chen about the invoice you sent last "
    "week; there seem to be two charges for the same delivery and we would like to",
    3000,
)

pytestmark = pytest.mark.slow  # whole calls in real time


async def test_pizzeria_call_completes_on_plivo(tmp_path: Path) -> None:
    scenario = pizza_booking(scale=0.3)
    async with plivo_world(scenario.carrier, scenario.model, tmp_path) as (world, fake):
        call_id = await world.place(scenario.to_number, scenario.task)
        sim = await fake.wait_call()
        data = await world.wait_call(call_id)
    record = data["call"]
    assert record["status"] == "completed"
    assert record["end_reason"] == "model-ended"
    assert record["outcome"]["success"] is True
    assert record["outcome"]["details"]["confirmation"] == "4472"
    lines = data["transcript"]
    roles = [line["role"] for line in lines]
    assert roles.count("caller") == 5 and roles.count("assistant") == 5
    assert [line["text"] for line in lines if line["role"] == "system"] == ["pressed 1"]
    assert [e["kind"] for e in data["events"]].count("barge_in") == 1
    # The hang-up named the CallUUID learnt from the answer, not the dial's request uuid.
    assert record["carrier_sid"] == sim.sid != fake.request_uuid(sim)
    assert sim.protocol_errors == [] and sim.errors == []


async def test_inbound_call_is_answered_on_plivo(tmp_path: Path) -> None:
    plan = CallPlan(
        callee=(WaitForModel(quiet_ms=200, timeout_s=5), Speak(ORDER, 500), WaitForModel(200))
    )
    script = ModelScript(
        turns=((Say(GREETING, 400),), (Say("Twenty minutes. Bye!", 400), END)),
        caller_transcripts=(ORDER,),
    )
    async with plivo_world(plan, script, tmp_path, **OPEN) as (world, fake):
        sim = await fake.place_inbound_call(from_number=CALLER, to_number=FROM_NUMBER, plan=plan)
        async with asyncio.timeout(20):
            await sim.ended.wait()
        [listed] = (await world.api("GET", "/api/calls"))[1]["calls"]
        data = await world.wait_call(listed["id"])
    record = data["call"]
    assert record["direction"] == "inbound" and record["from_number"] == CALLER
    assert record["carrier_sid"] == sim.sid and record["end_reason"] == "model-ended"
    [voice] = [w for w in sim.webhooks if w.kind == "voice"]
    assert voice.status == 200 and voice.params["Direction"] == "inbound"
    assert voice.params["From"] == CALLER.lstrip("+")  # Plivo's numbers have no `+`
    assert [line["role"] for line in data["transcript"]] == ["assistant", "caller", "assistant"]
    assert sim.protocol_errors == [] and sim.errors == []


async def test_barge_in_on_plivo_settles_the_checkpoints_it_cleared(tmp_path: Path) -> None:
    """Plivo answers `clearAudio` with `clearedAudio` and never a `playedStream` for the
    checkpoints it dropped: our ledger settles them at the clear, so the call goes on and
    its goodbye (whose checkpoint `end_call` waits for) plays out."""
    plan = CallPlan(
        ring_ms=100,
        answered_by=None,
        callee=(
            Speak("Hello, who is this?", 300),
            Pause(500 + 1000),  # the answer starts ~500 ms after that: talk 1 s into it
            Speak("Sorry, can you hold on a second?", 400),
        ),
    )
    script = ModelScript(
        turns=((LONG_ANSWER,), (Say("Of course.", 300), END)),
        caller_transcripts=callee_lines(plan),
    )
    async with plivo_world(plan, script, tmp_path) as (world, fake):
        call_id = await world.place(TO, TASK)
        sim = await fake.wait_call()
        data = await world.wait_call(call_id)
        stream = sim.stream
        active_after = world.server.manager.active_count
    assert isinstance(stream, PlivoStream)
    sent = [m["event"] for m in sim.received]
    assert sent.count("clearAudio") == 1
    # The clear dropped checkpoints, and none of them was ever answered.
    assert stream.dropped_checkpoints
    answered = {echo.name for echo in sim.mark_echoes}
    assert not answered & set(stream.dropped_checkpoints)
    assert not any(echo.cleared for echo in sim.mark_echoes)
    # The cut answer was truncated at what was heard; the goodbye played, the call ended.
    kinds = [e["kind"] for e in data["events"]]
    assert kinds.count("barge_in") == 1
    [barge_in] = [e for e in data["events"] if e["kind"] == "barge_in"]
    [cut] = barge_in["data"]["items"]
    assert 0 < cut["audio_end_ms"] < LONG_ANSWER.ms
    assert data["call"]["end_reason"] == "model-ended"
    lines = [(x["text"], x["interrupted"]) for x in data["transcript"] if x["role"] == "assistant"]
    assert lines[-1] == ("Of course.", False) and lines[0][1] is True
    assert active_after == 0  # nothing left waiting for a checkpoint
    assert sim.protocol_errors == []


async def test_forged_plivo_webhooks_get_403(tmp_path: Path) -> None:
    plan = CallPlan(ring_ms=100, callee=())
    async with plivo_world(plan, ModelScript(turns=()), tmp_path) as (world, fake):
        fake.bad_signature = True
        call_id = await world.place(TO, TASK)
        sim = await fake.wait_call()
        async with asyncio.timeout(10):
            await sim.ended.wait()
        status, data = await world.api("GET", f"/api/calls/{call_id}")
    assert {w.kind for w in sim.webhooks} >= {"status", "voice"}
    assert {w.status for w in sim.webhooks} == {403}
    assert sim.stream_url is None
    assert status == 200 and data["call"]["answered_at"] is None
    assert data["call"]["status"] == "queued"


async def test_machine_verdict_leaves_a_voicemail_on_plivo(tmp_path: Path) -> None:
    """Plivo's one verdict, `Machine=true`, counts as the greeting over: the message is left."""
    plan = CallPlan(ring_ms=100, answered_by="machine_end_beep", amd_delay_ms=300,
                    callee=(Pause(20_000),))  # fmt: skip
    message = Say("Hi, this is Alex's assistant about invoice 12. Please call back.", 500)
    script = ModelScript(turns=((message, END),))
    async with plivo_world(plan, script, tmp_path) as (world, fake):
        call_id = await world.place(TO, TASK)
        sim = await fake.wait_call()
        data = await world.wait_call(call_id)
    [amd] = [w for w in sim.webhooks if w.kind == "amd"]
    assert amd.status == 204 and amd.params["Machine"] == "true"
    assert amd.params["RequestUUID"] == fake.request_uuid(sim)
    record = data["call"]
    assert record["answered_by"] == "machine"
    assert "voicemail" in [e["kind"] for e in data["events"]]
    assert record["status"] == "completed"
