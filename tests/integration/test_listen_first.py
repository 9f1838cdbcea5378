"""Listen-first pacing: an outbound call waits for the callee to speak; a silent line gets
one "Hello?" and is then hung up as `no-response`; inbound calls greet first and are never
nudged.

The timers are short here (0.5 s nudge, 1.5 s hang-up) so the calls stay quick; what is
asserted is what was sent and in which order, plus lower bounds a timer cannot break (it
never fires early).
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.helpers.carriers import facts
from tests.helpers.phone import (
    TASK,
    TO,
    event_kinds,
    events,
    payload_bytes,
    system_notes,
)
from tests.helpers.world import MakeWorld
from voicecall_rt.simulator.scenario import (
    CallPlan,
    CallTool,
    HangUp,
    ModelScript,
    Pause,
    Say,
    Speak,
    WaitForModel,
    callee_lines,
)
from voicecall_rt.simulator.world import FROM_NUMBER

BYTES_PER_MS = 8
NUDGE_S = 0.5
HANG_UP_S = 1.5
TIMERS = {"calls.silenceNudgeSeconds": NUDGE_S, "calls.silenceHangupSeconds": HANG_UP_S}


def _t(data: dict[str, Any], kind: str) -> int:
    [t_ms] = [e["t_ms"] for e in data["events"] if e["kind"] == kind]
    return int(t_ms)


async def test_silent_line_gets_one_hello_then_is_hung_up(
    make_world: MakeWorld, carrier: str
) -> None:
    plan = CallPlan(ring_ms=100, answered_by=None, callee=(Pause(20_000),))
    hello = Say("Hello?", 300)
    world = await make_world(plan, ModelScript(turns=((hello,), (hello,))), **TIMERS)
    call_id = await world.place(TO, TASK)
    sim = await world.carrier.wait_call()
    data = await world.wait_call(call_id)
    session = world.model.last_session

    # Exactly one nudge: a system note asking for "Hello?", then one response.create.
    [(note_at, note)] = system_notes(session)
    assert "Hello?" in note
    types = session.received_types()
    assert types[note_at + 1] == "response.create"
    assert types.count("response.create") == 1
    assert "input_audio_buffer.speech_started" not in session.sent_types()
    # The model's one "Hello?" went to the line.
    sent = sum(len(payload_bytes(sim.received[i])) for i in events(sim, "media"))
    assert sent == hello.ms * BYTES_PER_MS and world.model.turns_played == 1

    # Then the line stayed silent: our server hung up through REST, reason no-response.
    assert sim.rest_hang_ups == ["completed"]
    record = data["call"]
    assert record["status"] == "completed"
    assert record["end_reason"] == "no-response"
    kinds = event_kinds(data)
    assert kinds.count("silence.nudge") == 1
    stream_t = _t(data, "stream.start")
    assert _t(data, "silence.nudge") - stream_t >= NUDGE_S * 1000
    assert _t(data, "end") - stream_t >= HANG_UP_S * 1000


async def test_callee_speaking_first_gets_no_nudge(make_world: MakeWorld, carrier: str) -> None:
    plan = CallPlan(
        ring_ms=100,
        answered_by=None,
        callee=(
            Speak("Hello, Dana speaking.", 300),
            WaitForModel(quiet_ms=200, timeout_s=10),
            Speak("Sure, go ahead.", 300),
        ),
    )
    script = ModelScript(
        turns=(
            (Say("Hi Dana, I'm an AI assistant calling for Alex.", 400),),
            (Say("Thanks, bye!", 200), CallTool("end_call", {"reason": "done"})),
        ),
        caller_transcripts=callee_lines(plan),
    )
    world = await make_world(plan, script, **TIMERS)
    call_id = await world.place(TO, TASK)
    sim = await world.carrier.wait_call()
    data = await world.wait_call(call_id)
    session = world.model.last_session

    # Nothing was asked of the model: no note, no response.create; VAD started each turn.
    assert system_notes(session) == []
    assert "response.create" not in session.received_types()
    sent = session.sent_types()
    first_audio = sent.index("response.output_audio.delta")
    assert sent.index("input_audio_buffer.speech_stopped") < sent.index("response.created")
    assert sent.index("response.created") < first_audio
    # The call outlived the silence hang-up timer: the callee's speech disarmed it.
    record = data["call"]
    assert record["end_reason"] == "model-ended"
    assert _t(data, "end") - _t(data, "stream.start") >= HANG_UP_S * 1000
    assert "silence.nudge" not in event_kinds(data)
    assert sim.script_timeouts == []


async def test_inbound_call_is_never_nudged(make_world: MakeWorld, carrier: str) -> None:
    greeting = "Tony's Pizza, Maria speaking."
    settings = {
        "inbound.enabled": True,
        "inbound.policy": "open",
        "inbound.greeting": greeting,
        **TIMERS,
    }
    # The caller hears the greeting, then says nothing for longer than both timers.
    plan = CallPlan(
        callee=(
            WaitForModel(quiet_ms=200, timeout_s=10),
            Pause(int(HANG_UP_S * 1000) + 500),
            HangUp(),
        )
    )
    world = await make_world(plan, ModelScript(turns=((Say(greeting, 300),),)), **settings)
    sim = await world.carrier.place_inbound_call(
        from_number="+14155550177", to_number=FROM_NUMBER, plan=plan
    )
    async with asyncio.timeout(15):
        await sim.ended.wait()
    status, listing = await world.api("GET", "/api/calls")
    assert status == 200
    [stored] = listing["calls"]
    data = await world.wait_call(stored["id"])
    session = world.model.last_session

    # Only the greeting was asked for; no "Hello?" and no silent hang-up by us.
    [(note_at, note)] = system_notes(session)
    assert greeting in note and "Hello?" not in note
    types = session.received_types()
    assert types[note_at + 1] == "response.create" and types.count("response.create") == 1
    assert "silence.nudge" not in event_kinds(data)
    assert sim.script_timeouts == [] and sim.ws_closed_by == "carrier"  # the caller hung up
    assert sim.rest_hang_ups == []
    record = data["call"]
    assert record["direction"] == "inbound"
    assert record["status"] == "completed"
    assert record["end_reason"] == facts(carrier).caller_hang_up  # the caller's, not a timer
    assert _t(data, "end") - _t(data, "stream.start") >= HANG_UP_S * 1000
