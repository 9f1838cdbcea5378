"""Inbound calls end to end: policy, greeting first, the limit, the caller's keypad, pre-warm."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import aiohttp
import pytest

from tests.helpers.carriers import facts, how_answered
from tests.helpers.twilio_wire import (
    StreamClient,
    answer_inbound,
    call_id_for,
    new_call_sid,
    payload,
)
from tests.helpers.world import MakeWorld
from voicecall_rt.call.admission import BUSY_MESSAGE
from voicecall_rt.simulator.openai.session import FakeSession
from voicecall_rt.simulator.scenario import (
    CallPlan,
    CallTool,
    HangUp,
    ModelScript,
    PressKeys,
    Say,
    Speak,
    WaitForModel,
)
from voicecall_rt.simulator.sim_call import SimCall
from voicecall_rt.simulator.world import FROM_NUMBER, SimWorld

CALLER = "+14155550177"
STRANGER = "+14155550999"
GREETING = "Tony's Pizza, Maria speaking. What can I get you?"
OPEN = {"inbound.enabled": True, "inbound.policy": "open", "inbound.greeting": GREETING}
ORDER = "A large margherita for pickup, please."
GOODBYE = "One large margherita, ready in twenty minutes. Goodbye!"
SILENT_BYTES = (0xFF, 0x7F)  # µ-law zero, as the fake caller sends between words

# The caller waits for the greeting, orders, then listens; the model hangs up.
ORDER_PLAN = CallPlan(
    callee=(WaitForModel(quiet_ms=200, timeout_s=5), Speak(ORDER, 500), WaitForModel(quiet_ms=200))
)
ORDER_SCRIPT = ModelScript(
    turns=(
        (Say(GREETING, 400),),
        (Say(GOODBYE, 400), CallTool("end_call", {"reason": "order taken"})),
    ),
    caller_transcripts=(ORDER,),
)
# The caller hears the greeting and then stays on the line, silent, until hung up.
LISTEN_PLAN = CallPlan(callee=(WaitForModel(quiet_ms=200),))
GREET_ONLY = ModelScript(turns=((Say(GREETING, 300),),))


async def _dial(world: SimWorld, caller: str, plan: CallPlan) -> SimCall:
    return await world.carrier.place_inbound_call(
        from_number=caller, to_number=FROM_NUMBER, plan=plan
    )


async def _ended(call: SimCall, timeout_s: float = 20.0) -> None:
    async with asyncio.timeout(timeout_s):
        await call.ended.wait()


async def _stored_calls(world: SimWorld) -> list[dict[str, Any]]:
    status, data = await world.api("GET", "/api/calls")
    assert status == 200
    calls: list[dict[str, Any]] = data["calls"]
    return calls


def _response_creates(session: FakeSession) -> list[dict[str, Any]]:
    return [e for e in session.received if e.get("type") == "response.create"]


def _greeting_index(session: FakeSession) -> int:
    for index, event in enumerate(session.received):
        if event.get("type") == "response.create":
            return index
    raise AssertionError(f"no response.create sent: {session.received_types()}")


def _first_request_text(session: FakeSession) -> str:
    """What steered the model's first response: the `response.create` instructions and any
    text items sent just before it (a system note keeps the session's rules in force)."""
    index = _greeting_index(session)
    request = session.received[index]
    texts = [str((request.get("response") or {}).get("instructions", ""))]
    for event in reversed(session.received[:index]):
        if event["type"] != "conversation.item.create":
            break
        for part in event["item"].get("content") or []:
            texts.append(str(part.get("text", "")))
    return "\n".join(texts)


def _assert_refused(world: SimWorld, call: SimCall) -> None:
    """Turned away at the door: rejected, no bridge, nothing for the model."""
    assert how_answered(world, call) == "reject"
    assert call.stream_url is None and call.received == []
    assert world.server.manager.active_count == 0
    assert world.model.sessions == []


async def test_open_policy_greets_first_then_converses_and_is_stored(
    make_world: MakeWorld, carrier: str
) -> None:
    world = await make_world(ORDER_PLAN, ORDER_SCRIPT, **OPEN)
    call = await _dial(world, CALLER, ORDER_PLAN)
    await _ended(call)

    # Bridged: a stream to our public stream URL with a call token.
    assert how_answered(world, call) == "stream"
    assert call.stream_url == "wss://voice.voicecall-rt.test/voice/realtime-stream"
    assert call.start_message is not None
    # The model spoke first: the caller's opening WaitForModel was satisfied with no prompt
    # (it would have timed out otherwise), and only then did the caller order.
    assert call.script_timeouts == []
    assert call.spoken == [ORDER]

    [session] = world.model.sessions
    assert session.received_types()[0] == "session.update"
    assert GREETING in _first_request_text(session)
    # Everything the caller sent before the greeting request was line silence.
    before = session.received[: _greeting_index(session)]
    for event in before:
        if event["type"] == "input_audio_buffer.append":
            assert set(base64.b64decode(event["audio"])) <= set(SILENT_BYTES)
    # The model's first words came from that request, not from caller speech.
    speech = session.sent_types()
    first_audio = speech.index("response.output_audio.delta")
    assert "input_audio_buffer.speech_started" not in speech[:first_audio]

    # The model hung up through the carrier once its goodbye had played.
    assert call.rest_hang_ups == ["completed"]
    assert call.statuses[-1] == "completed"

    [stored] = await _stored_calls(world)
    data = await world.wait_call(stored["id"])
    record = data["call"]
    assert record["direction"] == "inbound"
    assert record["from_number"] == CALLER and record["to_number"] == FROM_NUMBER
    assert record["carrier_sid"] == call.sid
    assert record["status"] == "completed"
    assert record["end_reason"] == "model-ended"
    lines = [(line["role"], line["text"]) for line in data["transcript"]]
    assert lines == [("assistant", GREETING), ("caller", ORDER), ("assistant", GOODBYE)]


async def test_caller_hanging_up_ends_and_settles_the_call(
    make_world: MakeWorld, carrier: str
) -> None:
    plan = CallPlan(callee=(WaitForModel(quiet_ms=200), HangUp()))
    world = await make_world(plan, GREET_ONLY, **OPEN)
    call = await _dial(world, CALLER, plan)
    await _ended(call)
    assert call.played_bytes > 0 and call.ws_closed_by == "carrier"

    [stored] = await _stored_calls(world)
    data = await world.wait_call(stored["id"])
    assert data["call"]["status"] == "completed"
    assert data["call"]["end_reason"] == facts(carrier).caller_hang_up
    assert call.rest_hang_ups == []  # the caller hung up; nothing for us to end
    assert [(x["role"], x["text"]) for x in data["transcript"]] == [("assistant", GREETING)]
    assert world.server.manager.active_count == 0


async def test_allowlisted_caller_is_bridged(make_world: MakeWorld, carrier: str) -> None:
    plan = CallPlan(callee=(WaitForModel(quiet_ms=200), HangUp()))
    world = await make_world(
        plan,
        GREET_ONLY,
        **{
            "inbound.enabled": True,
            "inbound.policy": "allowlist",
            # As a person would type it: normalised when the config is loaded.
            "inbound.allowFrom": ["+1 (415) 555-0177"],
            "inbound.greeting": GREETING,
        },
    )
    call = await _dial(world, CALLER, plan)
    await _ended(call)
    assert how_answered(world, call) == "stream"
    assert call.played_bytes > 0
    assert len(world.model.sessions) == 1
    [stored] = await _stored_calls(world)
    data = await world.wait_call(stored["id"])
    assert data["call"]["from_number"] == CALLER
    assert data["call"]["status"] == "completed"


@pytest.mark.parametrize("caller", [STRANGER, "+14155550178", "anonymous", ""])
async def test_caller_not_on_the_allowlist_is_rejected(
    make_world: MakeWorld, carrier: str, caller: str
) -> None:
    world = await make_world(
        LISTEN_PLAN,
        GREET_ONLY,
        **{
            "inbound.enabled": True,
            "inbound.policy": "allowlist",
            "inbound.allowFrom": ["+1 (415) 555-0177"],
        },
    )
    call = await _dial(world, caller, LISTEN_PLAN)
    await _ended(call)
    _assert_refused(world, call)
    assert await _stored_calls(world) == []


@pytest.mark.parametrize(
    "settings",
    [
        {},  # the default: inbound off
        {"inbound.enabled": False, "inbound.policy": "open"},
        {"inbound.enabled": True, "inbound.policy": "disabled"},
    ],
    ids=["default", "enabled-false", "policy-disabled"],
)
async def test_disabled_inbound_is_rejected(
    make_world: MakeWorld, carrier: str, settings: dict[str, Any]
) -> None:
    world = await make_world(LISTEN_PLAN, GREET_ONLY, **settings)
    call = await _dial(world, CALLER, LISTEN_PLAN)
    await _ended(call)
    _assert_refused(world, call)
    assert await _stored_calls(world) == []


async def test_at_capacity_inbound_hears_busy_message(make_world: MakeWorld, carrier: str) -> None:
    world = await make_world(LISTEN_PLAN, GREET_ONLY, **OPEN, **{"calls.maxConcurrent": 1})
    first = await _dial(world, CALLER, LISTEN_PLAN)
    await first.wait_for(lambda: first.script_done)  # live, greeted, listening
    assert world.server.manager.active_count == 1

    second = await _dial(world, STRANGER, LISTEN_PLAN)
    await _ended(second)
    assert how_answered(world, second) == "busy"
    assert second.said == ([BUSY_MESSAGE] if facts(carrier).says_busy else [])
    assert second.stream_url is None
    assert len(world.model.sessions) == 1  # none for the caller turned away
    [stored] = await _stored_calls(world)
    assert stored["carrier_sid"] == first.sid
    assert not first.ended.is_set()  # the live call was not disturbed

    await first.hang_up()
    data = await world.wait_call(stored["id"])
    assert data["call"]["status"] == "completed"


async def test_caller_keypad_reaches_the_model_and_transcript(
    make_world: MakeWorld, carrier: str
) -> None:
    world = await make_world(LISTEN_PLAN, GREET_ONLY, **OPEN)
    call = await _dial(world, CALLER, LISTEN_PLAN)
    await call.wait_for(lambda: call.script_done)
    [session] = world.model.sessions

    def pressed() -> list[dict[str, Any]]:
        return [
            e["item"]
            for e in session.received
            if e.get("type") == "conversation.item.create" and e["item"].get("role") == "user"
        ]

    await call.send_dtmf_event("5")
    await world.model.wait_for(lambda: bool(pressed()))
    [item] = pressed()
    assert item["type"] == "message"
    assert item["content"] == [{"type": "input_text", "text": "[caller pressed 5]"}]
    # A key press is a turn: the model is asked to answer it (nobody is talking).
    at = next(
        i
        for i, e in enumerate(session.received)
        if e.get("type") == "conversation.item.create" and e["item"].get("role") == "user"
    )
    await world.model.wait_for(lambda: len(session.received) > at + 1)
    # The next control event after it (caller audio aside).
    following = [t for t in session.received_types()[at + 1 :] if t != "input_audio_buffer.append"]
    assert following[0] == "response.create"

    await call.hang_up()
    [stored] = await _stored_calls(world)
    data = await world.wait_call(stored["id"])
    assert ("system", "caller pressed 5") in [(x["role"], x["text"]) for x in data["transcript"]]


async def test_model_is_prewarmed_at_the_answer_webhook(make_world: MakeWorld) -> None:
    """On Twilio's wire, driven by hand (the answer webhook, then the stream later)."""
    world = await make_world(LISTEN_PLAN, GREET_ONLY, **OPEN)
    call_sid = new_call_sid()
    async with aiohttp.ClientSession() as http:
        token = await answer_inbound(http, world, call_sid)
        # No stream exists yet, and the model session is already open and configured.
        await world.model.wait_for(
            lambda: (
                bool(world.model.sessions)
                and "session.update" in world.model.sessions[0].received_types()
            )
        )
        [session] = world.model.sessions
        assert _response_creates(session) == []  # nobody to greet yet
        call_id = await call_id_for(world, call_sid)

        stream = await StreamClient.connect(http, world)
        await stream.open(call_sid, token)
        first = payload(0xF1)
        await stream.media(first)
        # The stream joined the pre-warmed session (no second one), which greets now.
        await world.model.wait_for(
            lambda: (
                any(e.get("audio") == first for e in session.received)
                and bool(_response_creates(session))
            )
        )
        assert len(world.model.sessions) == 1
        assert session.received_types()[0] == "session.update"
        assert GREETING in _first_request_text(session)

        await stream.stop(call_sid)
        assert await stream.close_code() == aiohttp.WSCloseCode.OK

    data = await world.wait_call(call_id)
    events = [e["kind"] for e in data["events"]]
    assert events.index("model.ready") < events.index("stream.start")
    assert data["call"]["status"] == "completed"
    assert data["call"]["end_reason"] == "carrier-stop"


async def test_a_key_pressed_as_the_caller_speaks_is_answered_once(
    make_world: MakeWorld, carrier: str
) -> None:
    """The carrier's `dtmf` message comes after the tone, which the model's VAD hears as the
    caller speaking: we add the press and leave the reply to VAD when the turn ends,
    rather than answer over the caller (and then a second time)."""
    plan = CallPlan(
        callee=(
            WaitForModel(quiet_ms=200, timeout_s=5),
            PressKeys("5", tone_ms=200),
            WaitForModel(quiet_ms=200, timeout_s=10),
        )
    )
    script = ModelScript(
        turns=(
            (Say(GREETING, 300),),
            (Say("You pressed five: one margherita.", 300), CallTool("end_call", {"reason": "x"})),
        ),
        caller_transcripts=("",),
    )
    world = await make_world(plan, script, **OPEN)
    call = await _dial(world, CALLER, plan)
    await _ended(call)
    [session] = world.model.sessions
    kinds = session.received_types()
    pressed = next(
        i
        for i, e in enumerate(session.received)
        if e.get("type") == "conversation.item.create"
        and e["item"].get("content") == [{"type": "input_text", "text": "[caller pressed 5]"}]
    )
    sent = session.sent_types()
    # The tone was heard as speech, and still under way when the press arrived...
    assert "input_audio_buffer.speech_started" in sent
    # ...so the press went in without a response.create of ours: VAD started the reply.
    assert "response.create" not in kinds[pressed:]
    assert world.model.turns_played == 2  # the greeting, then one reply to the key
    [stored] = await _stored_calls(world)
    data = await world.wait_call(stored["id"])
    assert data["call"]["end_reason"] == "model-ended"
