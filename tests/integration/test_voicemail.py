"""Answering machines: the async AMD verdict (`DetectMessageEnd`, posted to /voice/amd)
steers the call (docs/design.md §7): leave a message, hang up, or carry on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from tests.helpers.carriers import facts
from tests.helpers.phone import (
    TASK,
    TO,
    assistant_items,
    event_kinds,
    events,
    is_item_mark,
    mark_name,
    media_owner,
    media_runs,
    system_notes,
    watch_hang_ups,
    watch_model,
    watch_webhooks,
)
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
    callee_lines,
)
from voicecall_rt.simulator.sim_call import SentWebhook, SimCall

BYTES_PER_MS = 8
AMD_MS = 300
MESSAGE = Say("Hi, this is Alex Chen's assistant about invoice 12. Please call back.", 500)
FIXED = "Hello from Alex Chen's assistant: please call 415 555 0100 back about invoice 12."
# After the beep the machine records in silence.
SILENT_MACHINE = (Pause(20_000),)


def _only_call(world_calls: Mapping[str, SimCall]) -> SimCall:
    [call] = world_calls.values()
    return call


@pytest.mark.parametrize(
    ("verdict", "with_end_call", "settings"),
    [
        ("machine_end_beep", True, {}),
        ("machine_end_silence", False, {}),  # the model forgets end_call: we hang up anyway
        ("machine_end_other", True, {"calls.voicemail.message": FIXED}),
    ],
    ids=["beep-end_call", "silence-no-end_call", "other-fixed-message"],
)
async def test_machine_verdict_leaves_one_message_then_hangs_up(
    make_world: MakeWorld,
    carrier: str,
    verdict: str,
    with_end_call: bool,
    settings: dict[str, Any],
) -> None:
    plan = CallPlan(ring_ms=100, answered_by=verdict, amd_delay_ms=AMD_MS, callee=SILENT_MACHINE)
    turn: tuple[Say | CallTool, ...] = (MESSAGE,)
    if with_end_call:
        turn += (CallTool("end_call", {"reason": "voicemail left"}),)
    world = await make_world(plan, ModelScript(turns=(turn,)), **settings)
    # Bytes the carrier had played when our server hung up.
    played_at_hang_up: list[int] = []

    watch_hang_ups(world, lambda call: played_at_hang_up.append(call.played_bytes))
    call_id = await world.place(TO, TASK)
    sim = await world.carrier.wait_call()
    data = await world.wait_call(call_id)
    session = world.model.last_session

    # The model was told, once, that it is recording a voicemail, then asked to speak.
    [(note_at, note)] = system_notes(session)
    assert "recording a voicemail" in note
    if "calls.voicemail.message" in settings:
        assert FIXED in note
    types = session.received_types()
    assert types[note_at + 1] == "response.create"
    assert "response.create" not in types[:note_at]  # listen-first: nothing asked before
    assert types.count("response.create") == 1
    # Before it, VAD was told the far end's sounds must not cancel or trigger responses.
    [_, update_at] = [i for i, t in enumerate(types) if t == "session.update"]
    assert update_at < note_at
    turn_detection = session.received[update_at]["session"]["audio"]["input"]["turn_detection"]
    assert turn_detection["interrupt_response"] is False
    assert turn_detection["create_response"] is False
    # ...after the verdict came in (the journal's order).
    kinds = event_kinds(data)
    assert kinds.index("amd") < kinds.index("voicemail")

    # The message played in full, then (and only then) one REST hang-up.
    assert sim.played_bytes == MESSAGE.ms * BYTES_PER_MS
    assert events(sim, "clear") == []
    assert sim.rest_hang_ups == ["completed"]
    assert played_at_hang_up == [MESSAGE.ms * BYTES_PER_MS]

    record = data["call"]
    assert record["status"] == "completed"
    assert record["end_reason"] == "model-ended"
    assert record["answered_by"] == facts(carrier).verdicts[verdict]
    assert record["amd_duration_ms"] == (AMD_MS if facts(carrier).amd_duration else None)
    assert [(line["role"], line["text"]) for line in data["transcript"]] == [
        ("assistant", MESSAGE.text)
    ]


async def test_machine_under_policy_hangup_ends_the_call_at_once(
    make_world: MakeWorld, carrier: str
) -> None:
    await _hang_up_verdict_ends_the_call_at_once(
        make_world, carrier, "machine_end_beep", {"calls.voicemail.policy": "hangup"}, "voicemail"
    )


async def test_fax_ends_the_call_at_once(make_world: MakeWorld) -> None:
    """Twilio's detection names a fax (Telnyx's and Plivo's report no fax apart)."""
    await _hang_up_verdict_ends_the_call_at_once(make_world, "twilio", "fax", {}, "fax")


async def _hang_up_verdict_ends_the_call_at_once(
    make_world: MakeWorld, carrier: str, verdict: str, settings: dict[str, Any], reason: str
) -> None:
    plan = CallPlan(ring_ms=100, answered_by=verdict, amd_delay_ms=AMD_MS, callee=SILENT_MACHINE)
    world = await make_world(plan, ModelScript(turns=((MESSAGE,),)), **settings)
    call_id = await world.place(TO, TASK)
    sim = await world.carrier.wait_call()
    data = await world.wait_call(call_id)
    session = world.model.last_session

    assert sim.rest_hang_ups == ["completed"]
    # No message was asked for, none was played.
    assert system_notes(session) == []
    assert "response.create" not in session.received_types()
    assert events(sim, "media") == [] and sim.played_bytes == 0
    kinds = event_kinds(data)
    assert "voicemail" not in kinds
    assert kinds.index("amd") < kinds.index("end")

    record = data["call"]
    assert record["status"] == "completed"
    assert record["end_reason"] == reason
    assert record["answered_by"] == facts(carrier).verdicts[verdict]
    assert record["amd_duration_ms"] == (AMD_MS if facts(carrier).amd_duration else None)


@pytest.mark.parametrize("verdict", ["human", "unknown"])
async def test_human_or_unknown_changes_nothing(
    make_world: MakeWorld, carrier: str, verdict: str
) -> None:
    # The verdict lands while the model's answer is playing (answer starts ~800 ms in).
    plan = CallPlan(
        ring_ms=100,
        answered_by=verdict,
        amd_delay_ms=1200,
        callee=(Speak("Hello?", 300), WaitForModel(quiet_ms=200, timeout_s=10)),
    )
    answer = Say("Hi, I'm calling for Alex Chen about invoice 12. Goodbye!", 1000)
    script = ModelScript(
        turns=((answer, CallTool("end_call", {"reason": "said it"})),),
        caller_transcripts=callee_lines(plan),
    )
    world = await make_world(plan, script)
    # (queued, played) bytes at the carrier when our server had answered the AMD webhook.
    at_verdict: list[tuple[int, int]] = []

    def on_webhook(sim: SimCall, hook: SentWebhook) -> None:
        if hook.kind == "amd":
            at_verdict.append((sim.queued_bytes, sim.played_bytes))

    watch_webhooks(world, on_webhook)
    call_id = await world.place(TO, TASK)
    sim = await world.carrier.wait_call()
    data = await world.wait_call(call_id)
    session = world.model.last_session

    [(queued, played)] = at_verdict
    assert queued > 0 and played > 0  # the verdict came mid-answer
    assert system_notes(session) == []
    assert "response.create" not in session.received_types()  # VAD drove the only response
    assert "conversation.item.truncate" not in session.received_types()
    assert events(sim, "clear") == []
    assert sim.played_bytes == answer.ms * BYTES_PER_MS
    kinds = event_kinds(data)
    assert "amd" in kinds and "voicemail" not in kinds

    record = data["call"]
    assert record["status"] == "completed"
    assert record["end_reason"] == "model-ended"
    assert record["answered_by"] == facts(carrier).verdicts[verdict]
    assert record["amd_duration_ms"] == (1200 if facts(carrier).amd_duration else None)
    assert not any(line["interrupted"] for line in data["transcript"])


async def test_verdict_mid_sentence_cuts_first_and_the_machine_does_not_cut_the_message(
    make_world: MakeWorld, carrier: str
) -> None:
    # The machine's greeting starts ("Hello?"), the model answers it as if a person spoke;
    # the beep comes (verdict) while that answer is still being generated and played. The
    # machine then makes more noise while the voicemail message plays.
    plan = CallPlan(
        ring_ms=100,
        answered_by="machine_end_beep",
        amd_delay_ms=1500,
        callee=(Speak("Hello?", 300), Pause(1400), Speak("(machine noise)", 600)),
    )
    long_answer = Say(
        "Hi there! I'm an AI assistant calling on behalf of Alex Chen about invoice 12, which "
        "seems to have been charged twice, and I was hoping we could",
        3000,
    )
    message = Say("Hello, this is Alex Chen's assistant about invoice 12. Please call back.", 1200)
    script = ModelScript(
        turns=((long_answer,), (message, CallTool("end_call", {"reason": "voicemail left"}))),
        caller_transcripts=callee_lines(plan),
    )
    world = await make_world(plan, script)
    # Generation at twice real time: the answer is still in flight at the verdict, and the
    # machine's noise comes while the voicemail message is still being generated.
    world.model.pace = 0.5
    clears_at_note: list[int] = []
    # At each speech_started: (clears so far, bytes queued at the carrier, response in flight)
    at_speech: list[tuple[int, int, bool]] = []

    def on_received(session: FakeSession, event: dict[str, Any]) -> None:
        item = event.get("item") or {}
        if item.get("role") == "system":
            clears_at_note.append(len(events(_only_call(world.carrier.calls), "clear")))

    def on_sent(session: FakeSession, event: dict[str, Any]) -> None:
        if event["type"] == "input_audio_buffer.speech_started":
            sim = _only_call(world.carrier.calls)
            generating = session.active_response_id is not None
            at_speech.append((len(sim.clears), sim.queued_bytes, generating))

    watch_model(world, received=on_received, sent=on_sent)
    call_id = await world.place(TO, TASK)
    sim = await world.carrier.wait_call()
    data = await world.wait_call(call_id)
    session = world.model.last_session
    cut_item, message_item = assistant_items(session)

    # Model side, in order: truncate the answer, cancel its response (still in flight; VAD
    # did not cancel it), stop VAD from interrupting or answering (nobody will reply), then
    # the voicemail note and one response.create.
    types = session.received_types()
    [truncate_at] = [i for i, t in enumerate(types) if t == "conversation.item.truncate"]
    [cancel_at] = [i for i, t in enumerate(types) if t == "response.cancel"]
    [(note_at, note)] = system_notes(session)
    [_, update_at] = [i for i, t in enumerate(types) if t == "session.update"]
    assert truncate_at < cancel_at < update_at < note_at
    turn_detection = session.received[update_at]["session"]["audio"]["input"]["turn_detection"]
    assert turn_detection["interrupt_response"] is False
    assert turn_detection["create_response"] is False
    assert types[note_at + 1] == "response.create" and types.count("response.create") == 1
    assert "recording a voicemail" in note
    truncate = session.received[truncate_at]
    assert truncate["item_id"] == cut_item and truncate["content_index"] == 0
    assert 0 < truncate["audio_end_ms"] <= session.item_audio_ms(cut_item) < long_answer.ms
    # Two responses: the answer, cancelled by us; the message, complete although the machine
    # made noise while it was generated (and that noise started no response of its own).
    first, second = session.responses
    assert first["status"] == "cancelled"
    assert first["status_details"]["reason"] == "client_cancelled"
    assert second["status"] == "completed"

    # Carrier side: the one clear went out before the note; nothing of the answer after it.
    assert clears_at_note == [1]
    [clear_at] = events(sim, "clear")
    after = [i for i in events(sim, "media") if i > clear_at]
    assert after and all(is_item_mark(media_owner(sim, i), message_item) for i in after)
    assert not any(
        is_item_mark(mark_name(sim.received[i]), cut_item)
        for i in events(sim, "mark")
        if i > clear_at
    )

    # The machine was heard making noise while the message was being generated and queued:
    # no second clear, and the whole message played.
    assert any(c == 1 and queued > 0 and busy for c, queued, busy in at_speech), at_speech
    assert len(sim.clears) == 1
    message_audio = b"".join(a for name, a in media_runs(sim) if is_item_mark(name, message_item))
    assert len(message_audio) == message.ms * BYTES_PER_MS
    assert bytes(sim.played_audio).endswith(message_audio)

    record = data["call"]
    assert record["status"] == "completed" and record["end_reason"] == "model-ended"
    assert record["answered_by"] == facts(carrier).verdicts["machine_end_beep"]
    assert record["amd_duration_ms"] == (1500 if facts(carrier).amd_duration else None)
    assistant = [x for x in data["transcript"] if x["role"] == "assistant"]
    assert [x["interrupted"] for x in assistant] == [True, False]
    assert assistant[1]["text"] == message.text
    [voicemail] = [e for e in data["events"] if e["kind"] == "voicemail"]
    assert voicemail["data"]["cut"] == [
        {"item_id": cut_item, "audio_end_ms": truncate["audio_end_ms"]}
    ]
