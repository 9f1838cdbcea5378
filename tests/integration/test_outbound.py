"""Outbound calls end to end: our real server between the fake Twilio and the fake model.

Every test drives a whole simulated call over loopback sockets and asserts what went over
the wire (REST requests, media frames, model events) and what was stored. Nothing waits on
a clock: tests wait for conditions (`SimCall.wait_for`, `model.wait_for`, `world.wait_call`).
Where two fakes' orders must be compared, a recording hook takes a snapshot of one side at
the exact moment the other side records something (see `watch_model` / `watch_updates`).
"""

from __future__ import annotations

import asyncio
import base64
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from tests.helpers.phone import HookedList
from tests.helpers.world import MakeWorld
from voicecall_rt.prompts import BRIEF_CLOSE, BRIEF_OPEN
from voicecall_rt.simulator.openai.session import FakeSession
from voicecall_rt.simulator.scenario import (
    CallPlan,
    CallTool,
    HangUp,
    ModelScript,
    Pause,
    Say,
    Speak,
    WaitForDigits,
    WaitForModel,
    callee_lines,
)
from voicecall_rt.simulator.sim_call import SimCall
from voicecall_rt.simulator.twilio.media_stream import MediaStream
from voicecall_rt.simulator.twilio.rest import CallUpdate
from voicecall_rt.simulator.world import FROM_NUMBER, PUBLIC_URL, SimWorld

TO = "+14155550123"
OTHER = "+14155550124"
TASK = "Book a table for two tonight at 8pm under the name Kim."

# ---- recording hooks -------------------------------------------------------------------


def watch_model(world: SimWorld, hook: Callable[[FakeSession, dict[str, Any]], None]) -> None:
    """Call `hook(session, event)` the moment the fake model records each client event."""

    def on_session(session: FakeSession) -> None:
        session.received = HookedList(session.received, lambda event: hook(session, event))

    class _Sessions(list[FakeSession]):
        def append(self, session: FakeSession) -> None:
            on_session(session)  # the session has received nothing yet
            super().append(session)

    world.model.sessions = _Sessions(world.model.sessions)


def watch_updates(world: SimWorld, hook: Callable[[CallUpdate], None]) -> None:
    """Call `hook(update)` the moment the fake carrier records a REST call update (the update
    has been applied, its teardown has not run yet)."""
    world.carrier.updates = HookedList(world.carrier.updates, hook)


def record_caller_audio(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Every inbound `media` payload the fake carrier puts on the wire, per CallSid, in order."""
    sent: dict[str, list[str]] = defaultdict(list)
    original = MediaStream._media_message

    def media_message(self: Any, chunk: str, stamp: str, payload: str, seq: str) -> dict[str, Any]:
        sent[self.call.sid].append(payload)
        return original(self, chunk, stamp, payload, seq)

    monkeypatch.setattr(MediaStream, "_media_message", media_message)
    return sent


# ---- small readers -----------------------------------------------------------------------


def appends(session: FakeSession) -> list[str]:
    return [e["audio"] for e in session.received if e["type"] == "input_audio_buffer.append"]


def media_bytes(sim: SimCall) -> int:
    """Bytes of model audio our server sent the carrier."""
    return sum(
        len(base64.b64decode(m["media"]["payload"])) for m in sim.received if m["event"] == "media"
    )


def updates_for(world: SimWorld, sim: SimCall) -> list[CallUpdate]:
    return [u for u in world.carrier.updates if u.call_sid == sim.sid]


def hang_ups(world: SimWorld, sim: SimCall) -> list[str]:
    return [u.params["Status"][0] for u in updates_for(world, sim) if "Status" in u.params]


def event_kinds(data: dict[str, Any]) -> list[str]:
    return [e["kind"] for e in data["events"]]


def function_outputs(session: FakeSession) -> list[tuple[int, dict[str, Any]]]:
    """(index in received, item) of each function_call_output the model got."""
    return [
        (i, e["item"])
        for i, e in enumerate(session.received)
        if e["type"] == "conversation.item.create"
        and e["item"].get("type") == "function_call_output"
    ]


def tool_names(session: FakeSession) -> dict[str, str]:
    """call_id → tool name, from the function calls the model made."""
    return {
        e["call_id"]: e["name"]
        for e in session.sent
        if e["type"] == "response.function_call_arguments.done"
    }


async def wait_model_audio(world: SimWorld, frames: int = 3) -> FakeSession:
    """Once the model session exists and has received `frames` caller frames."""
    await world.model.wait_for(
        lambda: bool(world.model.sessions) and len(appends(world.model.last_session)) >= frames
    )
    return world.model.last_session


async def wait_closed(world: SimWorld, session: FakeSession) -> None:
    await world.model.wait_for(session.closed.is_set, timeout=5)


# ---- scenarios ---------------------------------------------------------------------------

OUTCOME = {
    "success": True,
    "summary": "Booked a table for two at 8 pm under Kim.",
    "details": {"confirmation": "12"},
}
BOOKING_CALLEE = (
    Speak("Hello, Luigi's.", 300),
    WaitForModel(quiet_ms=200),
    Speak("Booked, confirmation one two.", 300),
    WaitForModel(quiet_ms=200),
)
BOOKING_SAYS = (
    Say("Hi, a table for two tonight at eight, please.", 400),
    Say("Thank you so much!", 300),
    Say("Goodbye!", 400),
)
BOOKING_SCRIPT = ModelScript(
    turns=(
        (BOOKING_SAYS[0],),
        (BOOKING_SAYS[1], CallTool("report_outcome", OUTCOME)),
        (BOOKING_SAYS[2], CallTool("end_call", {"reason": "booked"})),
    ),
    caller_transcripts=tuple(s.text for s in BOOKING_CALLEE if isinstance(s, Speak)),
)


def booking_plan(**overrides: Any) -> CallPlan:
    fields: dict[str, Any] = {
        "ring_ms": 200,
        "answered_by": "human",
        "amd_delay_ms": 100,
        "callee": BOOKING_CALLEE,
    }
    fields.update(overrides)
    return CallPlan(**fields)


SILENT = ModelScript()


# ---- 1. a whole call --------------------------------------------------------------------


async def test_outbound_call_to_completion(make_world: MakeWorld) -> None:
    world = await make_world(booking_plan(), BOOKING_SCRIPT)
    at_hang_up: list[tuple[CallUpdate, int, int, list[str]]] = []

    def snapshot(update: CallUpdate) -> None:
        sim = world.carrier.calls[update.call_sid]
        at_hang_up.append((update, sim.played_bytes, media_bytes(sim), list(sim.marks_echoed)))

    watch_updates(world, snapshot)
    call_id = await world.place(TO, TASK)
    sim = await world.carrier.wait_call()
    data = await world.wait_call(call_id)
    record = data["call"]

    # The REST create request.
    assert len(world.carrier.created) == 1
    create = world.carrier.created[0]
    assert create["To"] == [TO] and create["From"] == [FROM_NUMBER]
    assert create["Url"] == [f"{PUBLIC_URL}/voice/answer?call={call_id}"]
    assert create["StatusCallback"] == [f"{PUBLIC_URL}/voice/status?call={call_id}"]
    events = [e for value in create["StatusCallbackEvent"] for e in value.split()]
    assert sorted(events) == ["answered", "completed", "initiated", "ringing"]
    assert create["Timeout"] == ["30"]
    assert create["TimeLimit"] == ["600"]
    assert create["MachineDetection"] == ["DetectMessageEnd"]
    assert create["AsyncAmd"] == ["true"]
    assert create["AsyncAmdStatusCallback"] == [f"{PUBLIC_URL}/voice/amd?call={call_id}"]

    # What was stored.
    assert record["status"] == "completed"
    assert record["end_reason"] == "model-ended"
    assert record["carrier_sid"] == sim.sid
    assert record["outcome"] == OUTCOME
    assert record["answered_by"] == "human"
    assert record["amd_duration_ms"] == 100
    assert record["answered_at"] is not None and record["duration_s"] > 0

    # The transcript: both sides, in conversation order by their ms offsets.
    lines = sorted(data["transcript"], key=lambda line: line["t_ms"])
    assert [(line["role"], line["text"]) for line in lines] == [
        ("caller", "Hello, Luigi's."),
        ("assistant", BOOKING_SAYS[0].text),
        ("caller", "Booked, confirmation one two."),
        ("assistant", BOOKING_SAYS[1].text),
        ("assistant", BOOKING_SAYS[2].text),
    ]
    assert not any(line["interrupted"] for line in lines)
    answered_t = next(e["t_ms"] for e in data["events"] if e["kind"] == "answered")
    assert all(isinstance(line["t_ms"], int) and line["t_ms"] >= answered_t for line in lines)
    # The callee spoke again only after hearing all of the first answer (400 ms).
    assert lines[2]["t_ms"] - lines[1]["t_ms"] >= 400

    # Exactly one REST hang-up, Status=completed, sent after the goodbye had played out.
    assert [u.params.get("Status") for u in world.carrier.updates] == [["completed"]]
    assert len(at_hang_up) == 1
    update, played, received, echoed = at_hang_up[0]
    assert update.call_sid == sim.sid and update.status == 200
    assert received == 8 * sum(say.ms for say in BOOKING_SAYS)  # every byte the model said
    assert played == received
    assert "farewell" in echoed
    assert sim.played_bytes == media_bytes(sim) == received
    assert sim.statuses[-1] == "completed"

    session = world.model.last_session
    await wait_closed(world, session)
    assert len(world.model.sessions) == 1


async def test_outbound_without_amd_sends_no_amd_parameters(make_world: MakeWorld) -> None:
    plan = CallPlan(ring_ms=100, answered_by="machine_end_beep", callee=(Pause(200), HangUp()))
    world = await make_world(plan, SILENT, **{"calls.enableAmd": False})
    call_id = await world.place(TO, TASK)
    data = await world.wait_call(call_id)
    create = world.carrier.created[0]
    for name in (
        "MachineDetection",
        "AsyncAmd",
        "AsyncAmdStatusCallback",
        "AsyncAmdStatusCallbackMethod",
    ):
        assert name not in create
    assert create["Url"] == [f"{PUBLIC_URL}/voice/answer?call={call_id}"]
    assert data["call"]["status"] == "completed"
    assert data["call"]["answered_by"] is None
    assert not [w for w in world.carrier.webhooks if w.kind == "amd"]


# ---- 2. listen first; the session we ask for ----------------------------------------------


async def test_outbound_listens_first(make_world: MakeWorld) -> None:
    world = await make_world(booking_plan(), BOOKING_SCRIPT)
    # For each response.create: had the model already heard the callee start speaking?
    heard_callee: list[bool] = []

    def on_event(session: FakeSession, event: dict[str, Any]) -> None:
        if event["type"] == "response.create":
            heard_callee.append("input_audio_buffer.speech_started" in session.sent_types())

    watch_model(world, on_event)
    call_id = await world.place(TO, TASK)
    data = await world.wait_call(call_id)
    assert data["call"]["end_reason"] == "model-ended"

    session = world.model.last_session
    types = session.received_types()
    assert types[0] == "session.update"
    assert heard_callee and all(heard_callee)
    outputs = function_outputs(session)
    assert outputs, "report_outcome got no result"
    assert types.index("response.create") > outputs[0][0]
    # The first response came from the callee's speech (server VAD), not from us.
    first_created = session.sent_types().index("response.created")
    assert "input_audio_buffer.speech_stopped" in session.sent_types()[:first_created]


@pytest.mark.parametrize(
    ("settings", "turn_detection"),
    [
        (
            {"openai.voice": "marin", "vad.eagerness": "high"},
            {"type": "semantic_vad", "eagerness": "high"},
        ),
        ({"openai.voice": "cedar", "vad.type": "server_vad"}, {"type": "server_vad"}),
    ],
)
async def test_session_update_is_ga_shaped(
    make_world: MakeWorld, settings: dict[str, Any], turn_detection: dict[str, Any]
) -> None:
    plan = CallPlan(ring_ms=200, callee=(Pause(100), HangUp()))
    world = await make_world(plan, SILENT, **settings)
    call_id = await world.place(TO, TASK)
    await world.model.wait_for(
        lambda: (
            bool(world.model.sessions)
            and "session.update" in world.model.last_session.received_types()
        )
    )
    await world.wait_call(call_id)
    session = world.model.last_session

    # GA connection: bearer key, model in the query, no beta header.
    assert session.model == "gpt-realtime-2.1"  # the default: gpt-realtime shuts down 2027-01-20
    assert session.headers.get("Authorization") == "Bearer sk-sim-offline"
    assert "OpenAI-Beta" not in session.headers
    assert session.rejected is None

    update = session.received[0]
    assert update["type"] == "session.update"
    config = update["session"]
    assert config["type"] == "realtime"
    audio_in, audio_out = config["audio"]["input"], config["audio"]["output"]
    assert audio_in["format"] == {"type": "audio/pcmu"}
    assert audio_out["format"] == {"type": "audio/pcmu"}
    assert audio_out["voice"] == settings["openai.voice"]
    assert audio_in["turn_detection"].items() >= turn_detection.items()
    if turn_detection["type"] == "server_vad":
        assert "eagerness" not in audio_in["turn_detection"]
    assert audio_in["transcription"] == {"model": "gpt-transcribe"}  # no shutdown announced
    # A reasoning model: the effort suited to a phone call (README, "Choosing a model").
    assert config["reasoning"] == {"effort": "low"}
    assert {t["name"] for t in config["tools"]} == {"send_dtmf", "report_outcome", "end_call"}
    assert all(t["type"] == "function" for t in config["tools"])
    assert f"{BRIEF_OPEN}\n{TASK}\n{BRIEF_CLOSE}" in config["instructions"]
    # The fake accepted it as is: the effective session is µ-law both ways.
    assert session.config["audio"]["input"]["format"]["type"] == "audio/pcmu"
    assert session.config["audio"]["output"]["voice"] == settings["openai.voice"]
    assert "session.updated" in session.sent_types()


# ---- 3. pre-warm ----------------------------------------------------------------------------


async def test_prewarm_session_ready_before_stream_start(
    make_world: MakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = record_caller_audio(monkeypatch)
    plan = CallPlan(ring_ms=200, callee=(Speak("Hello?", 300), HangUp()))
    world = await make_world(plan, SILENT)
    # For each stream `start` the carrier had built when the model got session.update.
    starts_at_update: list[list[bool]] = []

    def on_event(session: FakeSession, event: dict[str, Any]) -> None:
        if event["type"] == "session.update":
            starts_at_update.append(
                [c.start_message is not None for c in world.carrier.calls.values()]
            )

    watch_model(world, on_event)
    call_id = await world.place(TO, TASK)
    sim = await world.carrier.wait_call()
    data = await world.wait_call(call_id)
    assert data["call"]["status"] == "completed"
    assert data["call"]["end_reason"] == "carrier-stop"

    # The model session was configured before the carrier sent the stream's `start`.
    assert len(starts_at_update) == 1
    assert not any(starts_at_update[0])
    assert sim.start_message is not None
    stream_start = next(e for e in data["events"] if e["kind"] == "stream.start")
    assert stream_start["data"]["model_ready"] is True
    kinds = event_kinds(data)
    assert kinds.index("model.ready") < kinds.index("stream.start")

    # Caller audio went straight through: first frame first, same base64, in order, all of it.
    session = world.model.last_session
    forwarded = appends(session)
    carrier_sent = sent[sim.sid]
    assert forwarded and carrier_sent
    assert forwarded[0] == carrier_sent[0]
    assert forwarded == carrier_sent[: len(forwarded)]
    assert len(forwarded) >= sim.media_sent
    assert session.received_types().index("input_audio_buffer.append") == 1
    assert "response.create" not in session.received_types()


async def test_caller_audio_before_model_ready_is_buffered_in_order(
    make_world: MakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = record_caller_audio(monkeypatch)
    # Answered at once, talking at once; the model refuses twice (the bridge backs off
    # between attempts), so the caller's first words arrive long before the session is ready.
    plan = CallPlan(ring_ms=0, callee=(Speak("Hello? Who is this?", 1400), HangUp()))
    world = await make_world(plan, SILENT)
    world.model.refuse_next = 2
    frames_at_update: list[int] = []

    def on_event(session: FakeSession, event: dict[str, Any]) -> None:
        if event["type"] == "session.update":
            frames_at_update.append(sum(c.media_sent for c in world.carrier.calls.values()))

    watch_model(world, on_event)
    call_id = await world.place(TO, TASK)
    sim = await world.carrier.wait_call()
    data = await world.wait_call(call_id)
    assert data["call"]["status"] == "completed"
    assert data["call"]["end_reason"] == "carrier-stop"
    assert world.model.refused == 2 and len(world.model.sessions) == 1

    # Frames were already flowing when the session became ready: they had to be buffered.
    assert frames_at_update and frames_at_update[0] >= 5
    stream_start = next(e for e in data["events"] if e["kind"] == "stream.start")
    assert stream_start["data"]["model_ready"] is False
    # ...and every one of them reached the model, in order, byte for byte.
    forwarded = appends(world.model.last_session)
    carrier_sent = sent[sim.sid]
    assert len(forwarded) >= sim.media_sent >= frames_at_update[0]
    assert forwarded == carrier_sent[: len(forwarded)]
    end = next(e for e in data["events"] if e["kind"] == "end")
    assert end["data"]["dropped_frames"] == 0
    assert end["data"]["frames_in"] == len(forwarded)


# ---- 4. ring outcomes ---------------------------------------------------------------------


@pytest.mark.parametrize("answer", ["no-answer", "busy", "failed"])
async def test_call_never_answered(make_world: MakeWorld, answer: str) -> None:
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
    assert updates_for(world, sim) == []  # nothing to hang up
    assert data["transcript"] == []

    # The pre-warmed model socket was opened, configured, and closed without a conversation.
    assert len(world.model.sessions) == 1
    session = world.model.last_session
    await wait_closed(world, session)
    assert session.received_types() == ["session.update"]
    assert session.responses == []


# ---- 5. concurrency ---------------------------------------------------------------------


async def test_concurrency_limit_refuses_before_dialling(make_world: MakeWorld) -> None:
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
    assert len(world.carrier.created) == 1  # nothing dialled
    assert len(world.model.sessions) == 1  # nothing pre-warmed either
    status, listing = await world.api("GET", "/api/calls")
    assert [c["id"] for c in listing["calls"]] == [first]

    await sim.hang_up()
    assert (await world.wait_call(first))["call"]["status"] == "completed"

    second = await world.place(OTHER, TASK)
    assert len(world.carrier.created) == 2
    assert world.carrier.created[1]["To"] == [OTHER]
    assert (await world.wait_call(second))["call"]["status"] == "busy"


# ---- 6.-8. the call breaks from one side ---------------------------------------------------


async def test_carrier_hangs_up_mid_sentence(make_world: MakeWorld) -> None:
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
    assert record["end_reason"] == "carrier-stop"
    assert updates_for(world, sim) == []  # the carrier ended it: no REST hang-up
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


async def test_model_socket_drop_with_no_new_session_hangs_up(make_world: MakeWorld) -> None:
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
    assert hang_ups(world, sim) == ["completed"]
    assert len(world.model.sessions) == 1  # every new connection was refused
    kinds = event_kinds(data)
    assert kinds.index("model.lost") < kinds.index("model.retry") < kinds.index("model.failed")


@pytest.mark.parametrize(
    ("ring_ms", "status"),
    [(100, "completed"), (10_000, "canceled")],
    ids=["answered", "still-ringing"],
)
async def test_model_unreachable_ends_the_call(
    make_world: MakeWorld, ring_ms: int, status: str
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
    assert hang_ups(world, sim) == ["completed"]
    assert sim.status == status
    assert world.model.sessions == [] and world.model.refused >= 1
    failed = [e for e in data["events"] if e["kind"] == "model.failed"]
    assert failed and "503" in failed[0]["data"]["error"]


# ---- 9. max duration ----------------------------------------------------------------------


async def test_outbound_max_duration(make_world: MakeWorld) -> None:
    world = await make_world(
        CallPlan(ring_ms=100, callee=(Pause(20_000),)), SILENT, **{"calls.maxDurationSeconds": 1}
    )
    call_id = await world.place(TO, TASK)
    sim = await world.carrier.wait_call()
    data = await world.wait_call(call_id)
    # The carrier's TimeLimit (from answer) and our own timer (from stream start) both say 1 s.
    assert world.carrier.created[0]["TimeLimit"] == ["1"]
    record = data["call"]
    assert record["status"] == "completed"
    assert record["end_reason"] in ("carrier-stop", "max-duration")
    # Nobody ended the call before the limit: our timer starts at stream start, after the
    # carrier's answer. Our own answered_at is when the answer reached us, so our duration can
    # be shorter than the carrier's by the webhook's delay; it only has to stay near the limit.
    talk_time = sim.talk_time_s
    assert talk_time is not None and talk_time >= 1.0
    assert 0 < record["duration_s"] <= 2.5
    assert sim.status == "completed"


async def test_inbound_max_duration_local_timer(make_world: MakeWorld) -> None:
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
    assert hang_ups(world, sim) == ["completed"]
    await sim.ended.wait()
    assert sim.status == "completed"


# ---- 10. zombie watchdog ----------------------------------------------------------------------


async def test_zombie_stream_is_hung_up(make_world: MakeWorld) -> None:
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
    assert hang_ups(world, sim) == ["completed"]
    assert 0.7 <= elapsed <= 3.0


# ---- 11. tools ---------------------------------------------------------------------------------


async def test_send_dtmf_plays_tones_before_the_result(make_world: MakeWorld) -> None:
    callee = (Speak("Press one, two, then pound.", 300), WaitForDigits(3, timeout_s=5))
    script = ModelScript(
        turns=(
            (CallTool("send_dtmf", {"digits": "12#"}),),
            (Say("Done.", 300), CallTool("end_call", {"reason": "menu done"})),
        ),
        caller_transcripts=callee_lines(CallPlan(callee=callee)),
    )
    world = await make_world(CallPlan(ring_ms=100, callee=callee), script)
    # When the result reaches the model: (bytes played, bytes sent, bytes still queued).
    at_result: list[tuple[int, int, int]] = []

    def on_event(session: FakeSession, event: dict[str, Any]) -> None:
        item = event.get("item") or {}
        if item.get("type") == "function_call_output":
            sim = next(iter(world.carrier.calls.values()))
            at_result.append((sim.played_bytes, media_bytes(sim), sim.queued_bytes))

    watch_model(world, on_event)
    call_id = await world.place(TO, TASK)
    sim = await world.carrier.wait_call()
    data = await world.wait_call(call_id)

    assert sim.heard_digits == "12#"
    assert sim.script_timeouts == []
    # The result went back only once every tone had been played to the far end.
    assert len(at_result) == 1
    played, sent, queued = at_result[0]
    assert sent >= 3 * 100 * 8  # three 100 ms tones at least
    assert played == sent and queued == 0

    session = world.model.last_session
    [(index, output)] = function_outputs(session)
    assert tool_names(session)[output["call_id"]] == "send_dtmf"
    assert orjson.loads(output["output"]) == {"ok": True, "pressed": "1 2 #"}
    assert session.received_types()[index + 1] == "response.create"

    record = data["call"]
    assert record["status"] == "completed" and record["end_reason"] == "model-ended"
    system = [line["text"] for line in data["transcript"] if line["role"] == "system"]
    assert system == ["pressed 1 2 #"]


async def test_bad_tool_calls_get_error_results(make_world: MakeWorld) -> None:
    script = ModelScript(
        turns=(
            (CallTool("send_dtmf", {"digits": "12x"}),),
            (CallTool("report_outcome", {"summary": "no success flag"}),),
            (CallTool("play_hold_music", {}),),
            (Say("Sorry about that. Goodbye.", 300), CallTool("end_call", {"reason": "done"})),
        ),
        caller_transcripts=("Hello?",),
    )
    world = await make_world(CallPlan(ring_ms=100, callee=(Speak("Hello?", 300),)), script)
    call_id = await world.place(TO, TASK)
    sim = await world.carrier.wait_call()
    data = await world.wait_call(call_id)

    session = world.model.last_session
    names = tool_names(session)
    types = session.received_types()
    results: dict[str, dict[str, Any]] = {}
    for index, item in function_outputs(session):
        results[names[item["call_id"]]] = orjson.loads(item["output"])
        assert types[index + 1] == "response.create"  # the model is asked to go on
    assert set(results) == {"send_dtmf", "report_outcome", "play_hold_music"}
    for name, result in results.items():
        assert result["ok"] is False, name
        assert isinstance(result["error"], str) and result["error"], name
    assert "x" in results["send_dtmf"]["error"]
    assert "success" in results["report_outcome"]["error"]
    assert "play_hold_music" in results["play_hold_music"]["error"]

    # The call went on: the model spoke afterwards and ended the call itself.
    record = data["call"]
    assert record["status"] == "completed"
    assert record["end_reason"] == "model-ended"
    assert record["outcome"] is None  # the invalid report was not stored
    assert sim.played_bytes == 300 * 8
    assert hang_ups(world, sim) == ["completed"]
    assert sim.heard_digits == ""
    errors = [e["data"]["name"] for e in data["events"] if e["kind"] == "tool.error"]
    assert sorted(errors) == ["play_hold_music", "report_outcome", "send_dtmf"]
