"""An outbound call end to end, our real server between a fake carrier (each in turn) and the
fake model: the dial (and Twilio's exact REST create request), what was stored, the hang-up
once the goodbye had played; listening first; the session asked of the model; the model
pre-warmed while the phone rings. Where two fakes' orders are compared, a recording hook
(tests/helpers/phone.py) takes a snapshot of one side the moment the other records
something: nothing waits on a clock.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from tests.helpers.carriers import facts
from tests.helpers.phone import (
    TO,
    appends,
    event_kinds,
    function_outputs,
    media_bytes,
    wait_closed,
    watch_hang_ups,
    watch_model,
)
from tests.helpers.world import MakeWorld
from voicecall_rt.prompts import BRIEF_CLOSE, BRIEF_OPEN
from voicecall_rt.simulator.far_end import FarEnd
from voicecall_rt.simulator.openai.session import FakeSession
from voicecall_rt.simulator.scenario import (
    CallPlan,
    CallTool,
    HangUp,
    ModelScript,
    Pause,
    Say,
    Speak,
    WaitForModel,
)
from voicecall_rt.simulator.sim_call import SimCall
from voicecall_rt.simulator.twilio.carrier import FakeTwilio
from voicecall_rt.simulator.world import FROM_NUMBER, PUBLIC_URL

TASK = "Book a table for two tonight at 8pm under the name Kim."


def record_caller_audio(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Every caller frame's payload the fake carrier puts on the wire, per call id, in order
    (whatever the carrier's message around it)."""
    sent: dict[str, list[str]] = defaultdict(list)
    original = FarEnd._send_media

    async def send_media(self: FarEnd, stamp: int, payload: str, voiced: bool) -> None:
        sent[self.call.sid].append(payload)
        await original(self, stamp, payload, voiced)

    monkeypatch.setattr(FarEnd, "_send_media", send_media)
    return sent


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


async def test_outbound_call_to_completion(make_world: MakeWorld, carrier: str) -> None:
    world = await make_world(booking_plan(), BOOKING_SCRIPT)
    # At each REST hang-up: (call id, bytes played, bytes sent, marks echoed).
    at_hang_up: list[tuple[str, int, int, list[str]]] = []

    def snapshot(sim: SimCall) -> None:
        at_hang_up.append((sim.sid, sim.played_bytes, media_bytes(sim), list(sim.marks_echoed)))

    watch_hang_ups(world, snapshot)
    call_id = await world.place(TO, TASK)
    sim = await world.carrier.wait_call()
    data = await world.wait_call(call_id)
    record = data["call"]

    # The dial, as the carrier took it (Twilio's exact parameters: test_twilio_create_request).
    assert list(world.carrier.calls) == [sim.sid]
    assert (sim.to, sim.from_, sim.direction) == (TO, FROM_NUMBER, "outbound-api")
    assert sim.config.timeout_s == 30
    assert sim.config.time_limit_s == (600 if facts(carrier).time_limit else None)
    assert sim.config.machine_detection is not None

    # What was stored.
    assert record["status"] == "completed"
    assert record["end_reason"] == "model-ended"
    assert record["carrier_sid"] == sim.sid
    assert record["outcome"] == OUTCOME
    assert record["answered_by"] == facts(carrier).verdicts["human"]
    assert record["amd_duration_ms"] == (100 if facts(carrier).amd_duration else None)
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

    # Exactly one REST hang-up, sent after the goodbye had played out.
    assert sim.rest_hang_ups == ["completed"]
    [(sid, played, received, echoed)] = at_hang_up
    assert sid == sim.sid
    assert received == 8 * sum(say.ms for say in BOOKING_SAYS)  # every byte the model said
    assert played == received
    assert "farewell" in echoed
    assert sim.played_bytes == media_bytes(sim) == received
    assert sim.statuses[-1] == "completed"

    session = world.model.last_session
    await wait_closed(world, session)
    assert len(world.model.sessions) == 1


@pytest.mark.parametrize("amd", [True, False], ids=["amd", "no-amd"])
async def test_twilio_create_request(make_world: MakeWorld, amd: bool) -> None:
    """Twilio's wire: the exact REST create parameters (no AMD ones when AMD is off)."""
    plan = CallPlan(ring_ms=100, callee=(Pause(200), HangUp()))
    world = await make_world(plan, SILENT, **{"calls.enableAmd": amd})
    call_id = await world.place(TO, TASK)
    await world.wait_call(call_id)

    assert isinstance(world.carrier, FakeTwilio)
    [create] = world.carrier.created
    assert create["To"] == [TO] and create["From"] == [FROM_NUMBER]
    assert create["Url"] == [f"{PUBLIC_URL}/voice/answer?call={call_id}"]
    assert create["StatusCallback"] == [f"{PUBLIC_URL}/voice/status?call={call_id}"]
    events = [e for value in create["StatusCallbackEvent"] for e in value.split()]
    assert sorted(events) == ["answered", "completed", "initiated", "ringing"]
    assert create["Timeout"] == ["30"]
    assert create["TimeLimit"] == ["600"]
    amd_params = {
        "MachineDetection": ["DetectMessageEnd"],
        "AsyncAmd": ["true"],
        "AsyncAmdStatusCallback": [f"{PUBLIC_URL}/voice/amd?call={call_id}"],
    }
    if amd:
        assert {name: create[name] for name in amd_params} == amd_params
    else:
        names = (*amd_params, "AsyncAmdStatusCallbackMethod")
        assert not [name for name in names if name in create]


async def test_outbound_without_amd_asks_for_none(make_world: MakeWorld, carrier: str) -> None:
    plan = CallPlan(ring_ms=100, answered_by="machine_end_beep", callee=(Pause(200), HangUp()))
    world = await make_world(plan, SILENT, **{"calls.enableAmd": False})
    call_id = await world.place(TO, TASK)
    sim = await world.carrier.wait_call()
    data = await world.wait_call(call_id)
    assert sim.config.machine_detection is None and sim.config.amd_callback is None
    assert data["call"]["status"] == "completed"
    assert data["call"]["answered_by"] is None
    assert not [w for w in sim.webhooks if w.kind == "amd"]
    assert "amd" not in event_kinds(data)


# ---- 2. listen first; the session we ask for ----------------------------------------------


async def test_outbound_listens_first(make_world: MakeWorld, carrier: str) -> None:
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
    make_world: MakeWorld, carrier: str, settings: dict[str, Any], turn_detection: dict[str, Any]
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
    # No transfer targets configured: no transfer_call (docs/business.md §Transfer to a person).
    assert {t["name"] for t in config["tools"]} == {
        "send_dtmf",
        "report_outcome",
        "end_call",
        "mark_do_not_call",
    }
    assert all(t["type"] == "function" for t in config["tools"])
    assert f"{BRIEF_OPEN}\n{TASK}\n{BRIEF_CLOSE}" in config["instructions"]
    # The fake accepted it as is: the effective session is µ-law both ways.
    assert session.config["audio"]["input"]["format"]["type"] == "audio/pcmu"
    assert session.config["audio"]["output"]["voice"] == settings["openai.voice"]
    assert "session.updated" in session.sent_types()


# ---- 3. pre-warm ----------------------------------------------------------------------------


async def test_prewarm_session_ready_before_stream_start(
    make_world: MakeWorld, carrier: str, monkeypatch: pytest.MonkeyPatch
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
    assert data["call"]["end_reason"] == facts(carrier).caller_hang_up

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
    make_world: MakeWorld, carrier: str, monkeypatch: pytest.MonkeyPatch
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
    assert data["call"]["end_reason"] == facts(carrier).caller_hang_up
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
