"""How a call ends when it does not end well: never answered, refused at the concurrency
limit before dialling, the carrier or the model gone mid-call, the longest call reached
(outbound and inbound), and a stream without media hung up by the watchdog. Whole
simulated calls over loopback; tests wait for conditions, never on a clock.
"""

from __future__ import annotations

import asyncio
from typing import Literal

import pytest

from tests.helpers.carriers import facts
from tests.helpers.phone import TO, appends, event_kinds, wait_closed
from tests.helpers.world import MakeWorld
from voicecall_rt.simulator.openai.session import FakeSession
from voicecall_rt.simulator.scenario import CallPlan, ModelScript, Pause, Say, Speak
from voicecall_rt.simulator.world import FROM_NUMBER, SimWorld

OTHER = "+14155550124"
TASK = "Book a table for two tonight at 8pm under the name Kim."
SILENT = ModelScript()


async def wait_model_audio(world: SimWorld, frames: int = 3) -> FakeSession:
    """Once the model session exists and has received `frames` caller frames."""
    await world.model.wait_for(
        lambda: bool(world.model.sessions) and len(appends(world.model.last_session)) >= frames
    )
    return world.model.last_session


# ---- 4. ring outcomes ---------------------------------------------------------------------


@pytest.mark.parametrize("answer", ["no-answer", "busy", "failed"])
async def test_call_never_answered(
    make_world: MakeWorld, carrier: str, answer: Literal["no-answer", "busy", "failed"]
) -> None:
    plan = CallPlan(answer=answer, ring_ms=300)
    world = await make_world(plan, SILENT)
    call_id = await world.place(TO, TASK)
    sim = await world.carrier.wait_call()
    data = await world.wait_call(call_id)
    record = data["call"]
    assert record["status"] == answer
    assert record["end_reason"] == answer
    assert record["answered_at"] is None and record["outcome"] is None
    assert sim.stream_sid is None and sim.received == []
    assert sim.rest_hang_ups == []  # nothing to hang up
    assert data["transcript"] == []

    # The pre-warmed model socket was opened, configured, and closed without a conversation.
    assert len(world.model.sessions) == 1
    session = world.model.last_session
    await wait_closed(world, session)
    assert session.received_types() == ["session.update"]
    assert session.responses == []


# ---- 5. concurrency ---------------------------------------------------------------------


async def test_concurrency_limit_refuses_before_dialling(
    make_world: MakeWorld, carrier: str
) -> None:
    long_call = CallPlan(ring_ms=100, callee=(Pause(20_000),))
    short_call = CallPlan(answer="busy", ring_ms=100)
    world = await make_world(
        lambda to: long_call if to == TO else short_call, SILENT, **{"calls.maxConcurrent": 1}
    )
    first = await world.place(TO, TASK)
    sim = await world.carrier.wait_call()
    await sim.wait_status("in-progress")

    status, body = await world.api("POST", "/api/calls", {"to": OTHER, "task": TASK})
    assert status == 429
    assert body["error"]["code"] == "limit"
    assert "limit" in body["error"]["message"]
    assert len(world.carrier.calls) == 1  # nothing dialled
    assert len(world.model.sessions) == 1  # nothing pre-warmed either
    status, listing = await world.api("GET", "/api/calls")
    assert [c["id"] for c in listing["calls"]] == [first]

    await sim.hang_up()
    assert (await world.wait_call(first))["call"]["status"] == "completed"

    second = await world.place(OTHER, TASK)
    assert [call.to for call in world.carrier.calls.values()] == [TO, OTHER]
    assert (await world.wait_call(second))["call"]["status"] == "busy"


# ---- 6.-8. the call breaks from one side ---------------------------------------------------


async def test_carrier_hangs_up_mid_sentence(make_world: MakeWorld, carrier: str) -> None:
    speech = "One, two, three, four, five, six, seven, eight, nine, ten, eleven, twelve."
    script = ModelScript(turns=((Say(speech, 3000),),), caller_transcripts=("Hi?",))
    world = await make_world(CallPlan(ring_ms=100, callee=(Speak("Hi?", 300),)), script)
    call_id = await world.place(TO, TASK)
    sim = await world.carrier.wait_call()
    await sim.wait_for(lambda: sim.played_ms >= 500)
    assert sim.queued_bytes > 0  # the model is still talking
    await sim.hang_up()
    data = await world.wait_call(call_id)

    record = data["call"]
    assert record["status"] == "completed"
    assert record["end_reason"] == facts(carrier).caller_hang_up
    assert sim.rest_hang_ups == []  # the carrier ended it: no REST hang-up
    session = world.model.last_session
    await wait_closed(world, session)

    assistant = [line for line in data["transcript"] if line["role"] == "assistant"]
    assert len(assistant) == 1
    line = assistant[0]
    assert line["interrupted"] is True
    heard = line["text"].removesuffix("—").rstrip()
    assert heard and len(heard) < len(speech)
    assert speech.startswith(heard)
    # Roughly what had played of the 3 s (the far party hung up at 0.5 s or a bit later).
    assert len(heard) <= len(speech) * 0.6


async def test_model_socket_drop_with_no_new_session_hangs_up(
    make_world: MakeWorld, carrier: str
) -> None:
    """A lost session is renewed (test_session_renewal); when no new one can be had, the
    call ends at once rather than leaving the caller with silence."""
    world = await make_world(CallPlan(ring_ms=100, callee=(Pause(20_000),)), SILENT)
    call_id = await world.place(TO, TASK)
    sim = await world.carrier.wait_call()
    await wait_model_audio(world)
    world.model.refuse_next = 100
    await world.model.drop_sessions()
    data = await world.wait_call(call_id)

    record = data["call"]
    assert record["status"] == "completed"
    assert record["end_reason"] == "model-unavailable"
    assert "503" in record["error"]
    assert sim.rest_hang_ups == ["completed"]
    assert len(world.model.sessions) == 1  # every new connection was refused
    kinds = event_kinds(data)
    assert kinds.index("model.lost") < kinds.index("model.retry") < kinds.index("model.failed")


@pytest.mark.parametrize(
    ("ring_ms", "status"),
    [(100, "completed"), (10_000, "canceled")],
    ids=["answered", "still-ringing"],
)
async def test_model_unreachable_ends_the_call(
    make_world: MakeWorld, carrier: str, ring_ms: int, status: str
) -> None:
    world = await make_world(CallPlan(ring_ms=ring_ms, callee=(Pause(20_000),)), SILENT)
    world.model.refuse_next = 10
    call_id = await world.place(TO, TASK)
    sim = await world.carrier.wait_call()
    data = await world.wait_call(call_id)

    record = data["call"]
    assert record["end_reason"] == "model-unavailable"
    assert record["status"] == status
    # Hung up with `completed` in either state; a call still ringing ends `canceled`.
    assert sim.rest_hang_ups == ["completed"]
    assert sim.status == status
    assert world.model.sessions == [] and world.model.refused >= 1
    failed = [e for e in data["events"] if e["kind"] == "model.failed"]
    assert failed and "503" in failed[0]["data"]["error"]


# ---- 9. max duration ----------------------------------------------------------------------


async def test_outbound_max_duration(make_world: MakeWorld, carrier: str) -> None:
    world = await make_world(
        CallPlan(ring_ms=100, callee=(Pause(20_000),)), SILENT, **{"calls.maxDurationSeconds": 1}
    )
    call_id = await world.place(TO, TASK)
    sim = await world.carrier.wait_call()
    data = await world.wait_call(call_id)
    # The carrier's time limit (from answer), where its dial takes one, and our own timer
    # (from stream start) both say 1 s.
    limited = facts(carrier).time_limit
    assert sim.config.time_limit_s == (1 if limited else None)
    record = data["call"]
    assert record["status"] == "completed"
    ends = (facts(carrier).caller_hang_up, "max-duration") if limited else ("max-duration",)
    assert record["end_reason"] in ends
    # Nobody ended the call before the limit: our timer starts at stream start, after the
    # carrier's answer. Our own answered_at is when the answer reached us, so our duration can
    # be shorter than the carrier's by the webhook's delay; it only has to stay near the limit.
    talk_time = sim.talk_time_s
    assert talk_time is not None and talk_time >= 1.0
    assert 0 < record["duration_s"] <= 2.5
    assert sim.status == "completed"


async def test_inbound_max_duration_local_timer(make_world: MakeWorld, carrier: str) -> None:
    plan = CallPlan(callee=(Pause(20_000),))
    world = await make_world(
        plan,
        SILENT,
        **{"inbound.enabled": True, "inbound.policy": "open", "calls.maxDurationSeconds": 1},
    )
    sim = await world.carrier.place_inbound_call(
        from_number="+14155550177", to_number=FROM_NUMBER, plan=plan
    )
    await sim.wait_for(lambda: sim.streaming)
    status, listing = await world.api("GET", "/api/calls")
    assert status == 200 and len(listing["calls"]) == 1
    call_id = listing["calls"][0]["id"]
    data = await world.wait_call(call_id)

    record = data["call"]
    assert record["direction"] == "inbound"
    assert record["end_reason"] == "max-duration"  # inbound has no carrier TimeLimit
    assert record["status"] == "completed"
    assert 1.0 <= record["duration_s"] <= 2.5
    assert sim.create_params == {}
    assert sim.rest_hang_ups == ["completed"]
    await sim.ended.wait()
    assert sim.status == "completed"


# ---- 10. zombie watchdog ----------------------------------------------------------------------


async def test_zombie_stream_is_hung_up(make_world: MakeWorld, carrier: str) -> None:
    world = await make_world(
        CallPlan(ring_ms=100, callee=(Pause(20_000),)), SILENT, **{"calls.mediaTimeoutSeconds": 1}
    )
    call_id = await world.place(TO, TASK)
    sim = await world.carrier.wait_call()
    await wait_model_audio(world)
    loop = asyncio.get_running_loop()
    stopped = loop.time()
    sim.stop_media()
    data = await world.wait_call(call_id)
    elapsed = loop.time() - stopped

    record = data["call"]
    assert record["end_reason"] == "no-media"
    assert record["status"] == "completed"
    assert sim.rest_hang_ups == ["completed"]
    assert 0.7 <= elapsed <= 3.0
