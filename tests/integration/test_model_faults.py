"""What the real model does on a bad day, through the whole system: a refused session,
failed and incomplete responses, cancelled tool calls, transcription that fails or comes
late. Each is a scenario of the fake model; the call must end for a clear reason, or go
on, and keep its record, transcript and events complete.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.helpers.world import MakeWorld
from voicecall_rt.simulator.openai import model_errors
from voicecall_rt.simulator.openai.session import FakeSession
from voicecall_rt.simulator.scenario import (
    CallPlan,
    CallTool,
    Incomplete,
    ModelScript,
    Pause,
    Say,
    Speak,
    TranscriptionFailure,
    WaitForModel,
)
from voicecall_rt.simulator.world import SimWorld

TO = "+14155550123"
TASK = "Ask whether the shop is open on Sunday."
HELLO = "Hello, Corner Shop."
ANSWER = "Yes, ten to four."


def _events(data: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["data"] for e in data["events"] if e["kind"] == kind]


def _types(session: FakeSession) -> list[str]:
    return session.received_types()


def _outputs(session: FakeSession) -> list[tuple[int, dict[str, Any]]]:
    return [
        (i, {"call_id": e["item"]["call_id"], **orjson.loads(e["item"]["output"])})
        for i, e in enumerate(session.received)
        if e["type"] == "conversation.item.create"
        and e["item"].get("type") == "function_call_output"
    ]


def _media_sent(world: SimWorld) -> int:
    return sum(
        1 for call in world.carrier.calls.values() for m in call.received if m["event"] == "media"
    )


async def test_a_refused_session_ends_the_call_before_anyone_hears_it(
    make_world: MakeWorld,
) -> None:
    """The real API answers a `session.update` it refuses with an `error`, and the session
    keeps PCM both ways. Nothing may be relayed: the callee would hear static. Here the
    configured transcription model is one OpenAI does not know."""
    world = await make_world(
        CallPlan(ring_ms=2000), ModelScript(), **{"openai.transcriptionModel": "gpt-transcribble"}
    )
    call_id = await world.place(TO, TASK)
    data = await world.wait_call(call_id)

    record = data["call"]
    assert record["end_reason"] == "model-refused"
    assert record["error"].startswith("invalid_value: Invalid value: 'gpt-transcribble'.")
    (refused,) = _events(data, "model.refused")
    assert refused["error"] == record["error"]
    assert "model.ready" not in [e["kind"] for e in data["events"]]
    assert _media_sent(world) == 0
    [session] = world.model.sessions
    # Nothing but the update was ever sent: no caller audio into a PCM session.
    assert _types(session) == ["session.update"]
    [(_, why)] = session.invalid
    assert "transcription.model" in why or "gpt-transcribble" in why
    session.invalid.clear()  # the refusal is this test's subject, not a bridge mistake


async def test_an_account_error_ends_the_call_at_once(make_world: MakeWorld) -> None:
    plan = CallPlan(ring_ms=100, callee=(Speak(HELLO, 300), WaitForModel(quiet_ms=200)))
    script = ModelScript(turns=((model_errors.INSUFFICIENT_QUOTA,),), caller_transcripts=(HELLO,))
    world = await make_world(plan, script)
    call_id = await world.place(TO, TASK)
    data = await world.wait_call(call_id)

    record = data["call"]
    assert record["end_reason"] == "model-fatal"
    assert record["error"].startswith("insufficient_quota: You exceeded your current quota")
    assert record["status"] == "completed"
    (fatal,) = _events(data, "model.fatal")
    assert fatal["error"] == record["error"]
    # No retry: a second try would fail the same way.
    assert world.model.turns_played == 1
    # The call's record stays complete: the caller's words are kept.
    assert [x["text"] for x in data["transcript"] if x["role"] == "caller"] == [HELLO]


async def test_a_server_error_is_retried_once(make_world: MakeWorld) -> None:
    plan = CallPlan(
        ring_ms=100,
        callee=(Speak(HELLO, 300), WaitForModel(quiet_ms=200), Speak(ANSWER, 300)),
    )
    script = ModelScript(
        turns=(
            (model_errors.SERVER_ERROR,),
            (Say("Hi! Are you open on Sunday?", 300),),
            (Say("Great, thanks!", 300), CallTool("end_call", {"reason": "answered"})),
        ),
        caller_transcripts=(HELLO, ANSWER),
    )
    world = await make_world(plan, script)
    call_id = await world.place(TO, TASK)
    data = await world.wait_call(call_id)

    assert data["call"]["end_reason"] == "model-ended"
    (failed,) = _events(data, "model.response_failed")
    assert failed["code"] == "server_error"
    assert [x["text"] for x in data["transcript"] if x["role"] == "assistant"] == [
        "Hi! Are you open on Sunday?",
        "Great, thanks!",
    ]


async def test_two_failures_in_a_row_end_the_call(make_world: MakeWorld) -> None:
    plan = CallPlan(ring_ms=100, callee=(Speak(HELLO, 300), Pause(5000)))
    rate_limited = model_errors.INFERENCE_RATE_LIMITED
    script = ModelScript(turns=((rate_limited,), (rate_limited,)), caller_transcripts=(HELLO,))
    world = await make_world(plan, script)
    call_id = await world.place(TO, TASK)
    data = await world.wait_call(call_id)

    record = data["call"]
    assert record["end_reason"] == "model-failed"
    assert record["error"].startswith("inference_rate_limit_exceeded:")
    assert len(_events(data, "model.response_failed")) == 2


async def test_an_incomplete_response_is_recorded_and_the_call_goes_on(
    make_world: MakeWorld,
) -> None:
    plan = CallPlan(
        ring_ms=100,
        callee=(Speak(HELLO, 300), WaitForModel(quiet_ms=200), Speak(ANSWER, 300)),
    )
    script = ModelScript(
        turns=(
            (Say("Hi! Are you open on", 300), Incomplete("max_output_tokens")),
            (Say("Thanks, goodbye!", 300), CallTool("end_call", {"reason": "answered"})),
        ),
        caller_transcripts=(HELLO, ANSWER),
    )
    world = await make_world(plan, script)
    call_id = await world.place(TO, TASK)
    data = await world.wait_call(call_id)

    assert data["call"]["end_reason"] == "model-ended"
    assert _events(data, "model.incomplete") == [{"reason": "max_output_tokens"}]


async def test_a_tool_in_a_response_the_caller_cut_off_is_not_run(make_world: MakeWorld) -> None:
    """`function_call_arguments.done` also comes for a response that is cancelled: keys
    pressed after the caller started talking would answer a question nobody asked."""
    plan = CallPlan(
        ring_ms=100,
        callee=(
            Speak(HELLO, 300),
            WaitForModel(quiet_ms=0),  # as soon as the model starts talking…
            Pause(300),
            Speak("Sorry, which department?", 600),  # …the callee talks over it
            WaitForModel(quiet_ms=200),
        ),
    )
    script = ModelScript(
        turns=(
            (CallTool("send_dtmf", {"digits": "5"}), Say("I will press five now " * 4, 3000)),
            (Say("Billing, please.", 300), CallTool("end_call", {"reason": "asked"})),
        ),
        caller_transcripts=(HELLO, "Sorry, which department?"),
    )
    world = await make_world(plan, script)
    world.model.pace = 1.0  # generated at speaking pace: the cut comes before it is done
    call_id = await world.place(TO, TASK)
    data = await world.wait_call(call_id)

    assert "dtmf" not in [e["kind"] for e in data["events"]]  # no key was pressed
    (skipped,) = _events(data, "tool.skipped")
    assert skipped["name"] == "send_dtmf" and "cancelled" in skipped["reason"]
    [session] = world.model.sessions
    [(index, output)] = _outputs(session)
    assert output["ok"] is False
    # The result went in without a `response.create`: VAD answers the caller instead.
    following = _types(session)[index + 1 :]
    next_create = following.index("response.create") if "response.create" in following else None
    assert next_create is None or "conversation.item.create" in following[:next_create]
    assert data["call"]["end_reason"] == "model-ended"


async def test_transcription_failures_and_late_transcripts(make_world: MakeWorld) -> None:
    plan = CallPlan(
        ring_ms=100,
        callee=(
            Speak(HELLO, 300),
            WaitForModel(quiet_ms=200),
            Speak("mumble", 300),
            WaitForModel(quiet_ms=200),
        ),
    )
    script = ModelScript(
        turns=(
            (Say("Hi! Are you open on Sunday?", 300),),
            (Say("Sorry, I'll call back. Bye!", 300), CallTool("end_call", {"reason": "x"})),
        ),
        caller_transcripts=(HELLO, TranscriptionFailure()),
    )
    world = await make_world(plan, script)
    call_id = await world.place(TO, TASK)
    data = await world.wait_call(call_id)

    lines = [(x["role"], x["text"]) for x in data["transcript"]]
    assert lines == [
        ("caller", HELLO),
        ("assistant", "Hi! Are you open on Sunday?"),
        ("caller", "(inaudible)"),
        ("assistant", "Sorry, I'll call back. Bye!"),
    ]
    times = [x["t_ms"] for x in data["transcript"]]
    assert times == sorted(times)
    assert _events(data, "transcription.failed")
    # Transcription is billed apart: its usage is kept with the call's.
    usage = data["call"]["usage"]
    assert usage["transcription_model"] == "gpt-transcribe"
    # gpt-transcribe is billed by the minute of audio: its usage comes in seconds.
    assert 0 < usage["transcription_seconds"] < 5
    assert data["call"]["cost"]["transcription_usd"] > 0
    assert _events(data, "model.rate_limits")  # recorded as the model reports them


async def test_every_client_event_carries_an_event_id(make_world: MakeWorld) -> None:
    plan = CallPlan(ring_ms=100, callee=(Speak(HELLO, 300), WaitForModel(quiet_ms=200)))
    script = ModelScript(
        turns=((Say("Bye!", 200), CallTool("end_call", {"reason": "x"})),),
        caller_transcripts=(HELLO,),
    )
    world = await make_world(plan, script)
    call_id = await world.place(TO, TASK)
    await world.wait_call(call_id)
    [session] = world.model.sessions
    ids = [event.get("event_id") for event in session.received]
    assert all(isinstance(i, str) and i for i in ids)
    assert len(set(ids)) == len(ids)


async def test_an_error_is_journaled_with_the_event_it_answers(
    make_world: MakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = CallPlan(ring_ms=100, callee=(Speak(HELLO, 300), WaitForModel(quiet_ms=200)))
    script = ModelScript(
        turns=((Say("Bye!", 200), CallTool("end_call", {"reason": "x"})),),
        caller_transcripts=(HELLO,),
    )
    world = await make_world(plan, script)
    call_id = await world.place(TO, TASK)
    await world.model.wait_for(lambda: bool(world.model.sessions))
    session = world.model.last_session
    await world.model.wait_for(lambda: "session.updated" in session.sent_types())
    # The real API names the client event an error answers; the fake's own error path
    # sends one naming our session.update (c1), as if it had been refused late.
    await session.send_error("Conversation item not found.", code="item_not_found", event_id="c1")
    data = await world.wait_call(call_id)
    errors = _events(data, "model.error")
    assert errors and errors[0]["client_event"]["type"] == "session.update"
    assert errors[0]["code"] == "item_not_found"
