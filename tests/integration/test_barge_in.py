"""Barge-in at real pace: the callee talks over the model and our server cuts at the right
millisecond (docs/protocols.md §1.7, docs/design.md §5).

The fake model generates faster than real time (pace 0), so a 3 s answer sits queued at
the fake carrier, which plays it at 8 bytes per ms and echoes our per-delta marks. What
"the carrier reports played" comes from the carrier's own records (`MarkEcho.played_bytes`
at the echoes a `clear` forces), never from our server.
"""

from __future__ import annotations

from typing import Any

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
    payload_bytes,
    watch_model,
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

BYTES_PER_MS = 8
LONG_ANSWER = Say(
    "Hi! I'm an AI assistant calling on behalf of Alex Chen about the invoice you sent last "
    "week; there seem to be two charges for the same delivery and we would like to",
    3000,
)
# The fake model's VAD needs this much quiet to end a turn (its default silence_duration_ms),
# so the answer starts about this long after the callee stops talking.
VAD_SILENCE_MS = 500


async def test_barge_in_clears_and_truncates_at_what_was_played(
    make_world: MakeWorld, carrier: str
) -> None:
    plan = CallPlan(
        ring_ms=100,
        answered_by=None,
        callee=(
            Speak("Hello, who is this?", 300),
            # The answer starts ~VAD_SILENCE_MS after that; talk over it ~1 s into it.
            Pause(VAD_SILENCE_MS + 1000),
            Speak("Sorry, can you hold on a second?", 400),
        ),
    )
    script = ModelScript(
        turns=(
            (LONG_ANSWER,),
            (Say("Of course.", 300), CallTool("end_call", {"reason": "asked to hold"})),
        ),
        caller_transcripts=callee_lines(plan),
    )
    world = await make_world(plan, script)
    delta_ms = world.model.delta_ms
    call_id = await world.place(TO, TASK)
    sim = await world.carrier.wait_call()
    data = await world.wait_call(call_id)
    session = world.model.last_session
    cut_item, next_item = assistant_items(session)

    # Exactly one clear, sent while part of the answer was still queued.
    [clear_at] = events(sim, "clear")
    [dropped] = sim.clears
    assert dropped > 0

    # What the carrier had played of the answer when the clear hit: the marks the clear
    # flushed carry it (the answer was the first audio of the call, so all of it is its).
    # The carrier echoes them, or (Plivo) never answers them.
    flushed = sim.cleared_marks
    assert flushed and all(is_item_mark(e.name, cut_item) for e in flushed)
    echoed = [e.name for e in sim.mark_echoes if e.cleared]
    assert echoed == ([e.name for e in flushed] if facts(carrier).echoes_cleared_marks else [])
    assert len({e.played_bytes for e in flushed}) == 1
    played_at_clear = flushed[0].played_bytes
    sent_before_clear = sum(
        len(payload_bytes(sim.received[i])) for i in events(sim, "media") if i < clear_at
    )
    assert played_at_clear + dropped == sent_before_clear  # the carrier's books balance
    assert 0 < played_at_clear < sent_before_clear

    # One truncate for that item, content 0, at what was heard, never above what was
    # generated.
    truncates = [e for e in session.received if e["type"] == "conversation.item.truncate"]
    assert len(truncates) == 1
    truncate = truncates[0]
    assert truncate["item_id"] == cut_item and truncate["content_index"] == 0
    audio_end_ms = truncate["audio_end_ms"]
    assert session.truncations == [(cut_item, audio_end_ms)]
    generated_ms = session.item_audio_ms(cut_item)
    # Within 30 ms of what the carrier had played (issue 9): counted at real time from
    # the last mark echo, not stuck a whole delta behind it.
    assert abs(played_at_clear / BYTES_PER_MS - audio_end_ms) <= 30
    assert audio_end_ms <= generated_ms
    # The flushed echoes (for audio nobody heard) did not count as played.
    assert audio_end_ms < LONG_ANSWER.ms
    assert any(int(e.name.rpartition(":")[2]) > audio_end_ms * BYTES_PER_MS for e in flushed)

    # We sent no response.cancel: VAD's interrupt_response does that on the server.
    assert "response.cancel" not in session.received_types()
    assert session.config["audio"]["input"]["turn_detection"]["interrupt_response"] is True

    # Nothing of the cut item reached the carrier after the clear, audio or mark; what came
    # after was the next answer, played in full.
    after = [i for i in events(sim, "media") if i > clear_at]
    assert after, "the model's next answer never reached the carrier"
    assert not any(is_item_mark(media_owner(sim, i), cut_item) for i in after)
    assert not any(
        is_item_mark(mark_name(sim.received[i]), cut_item)
        for i in events(sim, "mark")
        if i > clear_at
    )
    assert all(is_item_mark(media_owner(sim, i), next_item) for i in after)
    next_audio = b"".join(audio for name, audio in media_runs(sim) if is_item_mark(name, next_item))
    assert bytes(sim.played_audio).endswith(next_audio)
    assert sim.played_bytes == played_at_clear + len(next_audio)

    # The transcript keeps what was heard, marked as interrupted.
    [line] = [
        line
        for line in data["transcript"]
        if line["role"] == "assistant" and line["text"].startswith(LONG_ANSWER.text[:10])
    ]
    assert line["interrupted"] is True
    heard = line["text"].removesuffix("—").rstrip()
    assert heard and LONG_ANSWER.text.startswith(heard)
    assert len(heard) < len(LONG_ANSWER.text)
    # Proportional to the share played, within a delta's worth of text (+1 for a trimmed space).
    full = len(LONG_ANSWER.text)
    expected = full * audio_end_ms / generated_ms
    assert abs(len(heard) - expected) <= full * delta_ms / generated_ms + 1
    others = [x for x in data["transcript"] if x["role"] == "assistant" and x is not line]
    assert [(x["text"], x["interrupted"]) for x in others] == [("Of course.", False)]

    # The stored call: one barge-in, with the same numbers.
    assert event_kinds(data).count("barge_in") == 1
    [barge_in] = [e for e in data["events"] if e["kind"] == "barge_in"]
    assert barge_in["data"]["items"] == [{"item_id": cut_item, "audio_end_ms": audio_end_ms}]
    assert data["call"]["end_reason"] == "model-ended"


async def test_speech_with_nothing_queued_sends_no_clear_and_no_truncate(
    make_world: MakeWorld, carrier: str
) -> None:
    plan = CallPlan(
        ring_ms=100,
        answered_by=None,
        callee=(
            Speak("Hello?", 300),
            WaitForModel(quiet_ms=300, timeout_s=10),  # hears the whole answer, then a pause
            Speak("Who is calling?", 300),
        ),
    )
    first = Say("Hi, it's Alex's assistant.", 300)
    script = ModelScript(
        turns=(
            (first,),
            (Say("Just an assistant. Bye!", 200), CallTool("end_call", {"reason": "done"})),
        ),
        caller_transcripts=callee_lines(plan),
    )
    world = await make_world(plan, script)
    # Model audio still queued at the carrier whenever the model heard speech begin.
    queued_at_speech: list[int] = []

    def on_sent(session: FakeSession, event: dict[str, Any]) -> None:
        if event["type"] == "input_audio_buffer.speech_started":
            [sim] = world.carrier.calls.values()
            queued_at_speech.append(sim.queued_bytes)

    watch_model(world, sent=on_sent)
    call_id = await world.place(TO, TASK)
    sim = await world.carrier.wait_call()
    data = await world.wait_call(call_id)
    session = world.model.last_session

    assert queued_at_speech == [0, 0]  # the callee spoke twice, both times into silence
    assert events(sim, "clear") == [] and sim.clears == []
    assert "conversation.item.truncate" not in session.received_types()
    assert session.truncations == []
    assert "barge_in" not in event_kinds(data)
    assert not any(e.cleared for e in sim.mark_echoes) and sim.cleared_marks == []
    # Both answers were heard in full.
    assert sim.played_bytes == sum(len(audio) for _, audio in media_runs(sim))
    assert sim.played_bytes == (first.ms + 200) * BYTES_PER_MS
    assert not any(line["interrupted"] for line in data["transcript"])
    assert data["call"]["end_reason"] == "model-ended"
