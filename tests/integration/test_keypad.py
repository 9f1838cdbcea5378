"""Keypad presses (send_dtmf) through the whole system, on every carrier: a simulated IVR
only moves on when it has *heard* the keys. How they go is the carrier's
(tests/helpers/carriers.py): in-band tones in our audio (Twilio), the carrier's REST
command (Telnyx plays tones on the line, Plivo signals them), or the stream's keypad message
(SignalWire); tones the far party hears are judged by multimon-ng too.

In-band tones (docs/protocols.md §4.7 option 1), Twilio's way, are ordinary `media` frames
behind whatever is already queued, then a `mark`; the tool result goes back to the model
only when that mark echoes, and nothing (barge-in, a new response) may cut them: those tests
run on Twilio's wire.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.helpers.carriers import facts
from tests.helpers.outside_judges import multimon_digits, require_tool
from tests.helpers.phone import (
    TASK,
    TO,
    assistant_items,
    events,
    is_dtmf_mark,
    is_item_mark,
    item_creates,
    kind,
    loud_runs,
    mark_name,
    media_runs,
    payload_bytes,
    tool_names,
    watch_model,
)
from tests.helpers.world import MakeWorld
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

FRAME_BYTES = 160  # one 20 ms µ-law media frame
BYTES_PER_MS = 8
# docs/protocols.md §5.2: 3-5 ms raised-cosine ramps at both ends of a tone. A level threshold
# finds a tone's edges somewhere inside those ramps, so measured lengths may be off by up
# to one ramp at each end.
RAMP_TOLERANCE_MS = 2 * 5
PAUSE_MS = 500  # 'w' / ',' (Twilio's sendDigits meaning)


def _plan(*callee: Any) -> CallPlan:
    return CallPlan(ring_ms=100, answered_by=None, callee=callee)


def _script(plan: CallPlan, *turns: tuple[Say | CallTool, ...]) -> ModelScript:
    return ModelScript(turns=turns, caller_transcripts=callee_lines(plan))


def _only_call(sim_calls: Mapping[str, SimCall]) -> SimCall:
    [call] = sim_calls.values()
    return call


def _outputs(session: FakeSession) -> list[tuple[int, dict[str, Any]]]:
    """(index in received, parsed output) of each function_call_output, in order."""
    found = []
    for index in item_creates(session, "function_call_output"):
        item = session.received[index]["item"]
        found.append((index, {"call_id": item["call_id"], **orjson.loads(item["output"])}))
    return found


def _dtmf_marks(sim: SimCall) -> list[tuple[int, str]]:
    """(index in received, name) of the marks our server sent after keypad tones."""
    marks = [(i, mark_name(sim.received[i])) for i in events(sim, "mark")]
    return [(i, name) for i, name in marks if is_dtmf_mark(name)]


def _media_bytes_before(sim: SimCall, index: int) -> int:
    return sum(len(payload_bytes(sim.received[i])) for i in events(sim, "media") if i < index)


def _framed_ms(ms: int) -> int:
    """Tone audio is sent in whole 20 ms frames (the last one padded with silence)."""
    return math.ceil(ms / 20) * 20


IVR_PLAN = _plan(
    Speak("Main menu. For billing, press 1.", 300),
    WaitForDigits(1, timeout_s=10),
    # A beat before the next prompt: the keys' result reaches the model in silence (a
    # result that lands while the line talks waits for the end of the talk, see
    # test_model_faults), so each result is answered by its own response.
    Pause(400),
    Speak("Billing. Enter your code, then pound.", 300),
    WaitForDigits(3, timeout_s=10),
    Pause(400),
    Speak("Thank you, connecting you now.", 300),
)
IVR_SCRIPT = _script(
    IVR_PLAN,
    (CallTool("send_dtmf", {"digits": "1"}),),
    (),  # keys pressed: the model listens to the next menu
    (CallTool("send_dtmf", {"digits": "23#"}),),
    (),
    (Say("Hi, I'm calling about invoice twelve.", 300), CallTool("end_call", {"reason": "ok"})),
)


async def test_ivr_is_navigated_by_keys(
    make_world: MakeWorld, carrier: str, tmp_path: Path
) -> None:
    world = await make_world(IVR_PLAN, IVR_SCRIPT)
    call_id = await world.place(TO, TASK)
    sim = await world.carrier.wait_call()
    data = await world.wait_call(call_id)

    # The IVR heard exactly these keys, in this order, and every menu step was satisfied.
    assert sim.heard_digits == "123#"
    assert sim.script_timeouts == []
    assert sim.script_done
    # Pressed the carrier's way; as tones, an outside decoder hears the same keys.
    presses = [
        (e["data"]["digits"], e["data"]["via"]) for e in data["events"] if e["kind"] == "dtmf"
    ]
    via = facts(carrier).keys_via
    assert presses == [("1", via), ("23#", via)]
    tones = bytes(sim.played_audio if via == "audio" else sim.line_audio)
    judge = multimon_digits(require_tool("multimon-ng"), tones, tmp_path) if tones else ""
    assert judge == ("123#" if facts(carrier).keys_as_tones else "")
    tone_runs = [audio for name, audio in media_runs(sim) if is_dtmf_mark(name)]
    assert bool(tone_runs) == (via == "audio")  # no tones in our audio otherwise
    assert events(sim, "clear") == [] and sim.clears == []

    session = world.model.last_session
    outputs = _outputs(session)
    names = tool_names(session)
    results = [(names[out["call_id"]], out["ok"], out["pressed"]) for _, out in outputs]
    assert results == [("send_dtmf", True, "1"), ("send_dtmf", True, "2 3 #")]
    types = session.received_types()
    for index, _ in outputs:
        assert types[index + 1] == "response.create"

    record = data["call"]
    assert record["status"] == "completed" and record["end_reason"] == "model-ended"
    system = [line["text"] for line in data["transcript"] if line["role"] == "system"]
    assert system == ["pressed 1", "pressed 2 3 #"]


async def test_tones_results_wait_for_their_marks(make_world: MakeWorld) -> None:
    """Twilio's in-band tones: media frames then one mark a press; each result reaches the
    model only once that mark has echoed."""
    world = await make_world(IVR_PLAN, IVR_SCRIPT)
    # When each tool result reaches the model: the dtmf mark echoes the carrier had made
    # by then (name, echoed because of a clear?, bytes played at the echo).
    at_output: list[list[tuple[str, bool, int]]] = []

    def on_received(session: FakeSession, event: dict[str, Any]) -> None:
        item = event.get("item") or {}
        if item.get("type") == "function_call_output":
            sim = _only_call(world.carrier.calls)
            echoes = [e for e in sim.mark_echoes if is_dtmf_mark(e.name)]
            at_output.append([(e.name, e.cleared, e.played_bytes) for e in echoes])

    watch_model(world, received=on_received)
    call_id = await world.place(TO, TASK)
    sim = await world.carrier.wait_call()
    await world.wait_call(call_id)
    assert sim.heard_digits == "123#"

    # Each press: media frames (160 bytes each) then one mark; nothing else carried them.
    marks = _dtmf_marks(sim)
    assert len(marks) == 2
    runs = [(name, audio) for name, audio in media_runs(sim) if is_dtmf_mark(name)]
    assert [name for name, _ in runs] == [name for _, name in marks]
    for (index, _), keys in zip(marks, ("1", "23#"), strict=True):
        frames_before = []
        for i in reversed(range(index)):
            if kind(sim.received[i]) != "media":
                break
            frames_before.append(payload_bytes(sim.received[i]))
        assert frames_before and all(len(frame) == FRAME_BYTES for frame in frames_before)
        assert len(frames_before) * 20 == _framed_ms(len(keys) * (100 + 80))

    # Each result reached the model only after its tones' mark had echoed (not because of
    # a clear), at which point everything sent before the mark had played.
    outputs = _outputs(world.model.last_session)
    assert len(outputs) == len(at_output) == 2
    for k, ((mark_index, name), echoes) in enumerate(zip(marks, at_output, strict=True)):
        echoed = {e[0]: e for e in echoes}
        assert name in echoed, f"result {k} reached the model before its tones had played"
        _, cleared, played = echoed[name]
        assert not cleared
        assert played == _media_bytes_before(sim, mark_index)


async def test_tones_queue_behind_model_audio_and_a_new_response_never_clears(
    make_world: MakeWorld,
) -> None:
    plan = _plan(Speak("Hello?", 300), WaitForDigits(1, timeout_s=10))
    says = (
        Say("Hi, this is an AI assistant calling for Dana.", 800),
        Say("Let me enter the code.", 400),
        Say("Done, goodbye.", 200),
    )
    outcome = {"success": True, "summary": "Entered the code.", "details": {}}
    script = _script(
        plan,
        (says[0], CallTool("report_outcome", outcome)),
        (says[1], CallTool("send_dtmf", {"digits": "1"})),
        (says[2], CallTool("end_call", {"reason": "done"})),
    )
    world = await make_world(plan, script)
    # Audio still queued at the carrier when each response.created went out.
    queued_at_created: list[int] = []

    def on_sent(session: FakeSession, event: dict[str, Any]) -> None:
        if event["type"] == "response.created":
            queued_at_created.append(_only_call(world.carrier.calls).queued_bytes)

    watch_model(world, sent=on_sent)
    call_id = await world.place(TO, TASK)
    sim = await world.carrier.wait_call()
    data = await world.wait_call(call_id)
    session = world.model.last_session
    a, b, c = assistant_items(session)

    # The second response started while the first answer was still playing: no clear.
    assert len(queued_at_created) == 3
    assert queued_at_created[1] > 0
    assert events(sim, "clear") == [] and sim.clears == []

    # Send order: the first two answers' audio, then the tones, then the last answer.
    owners: list[str | None] = []
    for name, _ in media_runs(sim):
        owner = next(
            (label for label, item in (("a", a), ("b", b), ("c", c)) if is_item_mark(name, item)),
            "dtmf" if is_dtmf_mark(name) else None,
        )
        if not owners or owners[-1] != owner:
            owners.append(owner)
    assert owners == ["a", "b", "dtmf", "c"]
    # Everything sent was played, in that order, and the key was heard.
    sent_audio = b"".join(audio for _, audio in media_runs(sim))
    assert bytes(sim.played_audio) == sent_audio
    assert sim.heard_digits == "1"
    assert data["call"]["end_reason"] == "model-ended"
    assert [line["text"] for line in data["transcript"] if line["role"] == "system"] == [
        "pressed 1"
    ]


PAUSE_PLAN = _plan(Speak("Enter the extension.", 300), WaitForDigits(2, timeout_s=10))
PAUSE_SCRIPT = _script(
    PAUSE_PLAN,
    (CallTool("send_dtmf", {"digits": "1w2"}),),
    (Say("Thanks.", 200), CallTool("end_call", {"reason": "done"})),
)


async def test_pause_digit_presses_both_keys(make_world: MakeWorld, carrier: str) -> None:
    world = await make_world(PAUSE_PLAN, PAUSE_SCRIPT)
    call_id = await world.place(TO, TASK)
    sim = await world.carrier.wait_call()
    data = await world.wait_call(call_id)

    assert sim.heard_digits == "12"
    [pressed] = [e["data"] for e in data["events"] if e["kind"] == "dtmf"]
    assert pressed["digits"] == "1w2" and pressed["via"] == facts(carrier).keys_via
    session = world.model.last_session
    [(_, output)] = _outputs(session)
    assert output["ok"] is True and output["pressed"] == "1 2"
    assert data["call"]["end_reason"] == "model-ended"


async def test_pause_digit_puts_half_a_second_between_tones(make_world: MakeWorld) -> None:
    """Twilio's in-band tones: the pause is silence in our audio."""
    world = await make_world(PAUSE_PLAN, PAUSE_SCRIPT)
    call_id = await world.place(TO, TASK)
    sim = await world.carrier.wait_call()
    await world.wait_call(call_id)

    assert sim.heard_digits == "12"
    [(_, tones)] = [(name, audio) for name, audio in media_runs(sim) if is_dtmf_mark(name)]
    # What was played starts with the tones (the model said nothing before them).
    assert bytes(sim.played_audio).startswith(tones)
    runs = loud_runs(tones, threshold=1000)
    assert len(runs) == 2
    gap_ms = (runs[1][0] - runs[0][1]) / BYTES_PER_MS
    assert gap_ms >= PAUSE_MS
    # The silence between them is the key gap plus the pause (80 + 500 ms), no more.
    assert gap_ms <= 80 + PAUSE_MS + RAMP_TOLERANCE_MS


@pytest.mark.parametrize(
    ("settings", "on_ms", "off_ms"),
    [({}, 100, 80), ({"calls.dtmfToneMs": 150, "calls.dtmfGapMs": 50}, 150, 50)],
    ids=["defaults", "tone150-gap50"],
)
async def test_tone_and_gap_lengths_follow_the_settings(
    make_world: MakeWorld, settings: dict[str, Any], on_ms: int, off_ms: int
) -> None:
    plan = _plan(Speak("Press 1 then 2.", 300), WaitForDigits(2, timeout_s=10), HangUp())
    script = _script(plan, (CallTool("send_dtmf", {"digits": "12"}),))
    world = await make_world(plan, script, **settings)
    await world.place(TO, TASK)
    sim = await world.carrier.wait_call()
    await sim.wait_for(sim.ended.is_set, timeout=15)

    assert sim.heard_digits == "12"
    [(_, tones)] = [(name, audio) for name, audio in media_runs(sim) if is_dtmf_mark(name)]
    assert len(tones) == _framed_ms(2 * (on_ms + off_ms)) * BYTES_PER_MS
    runs = loud_runs(tones, threshold=1000)
    assert len(runs) == 2
    for start, end in runs:
        assert abs((end - start) / BYTES_PER_MS - on_ms) <= RAMP_TOLERANCE_MS
    gap_ms = (runs[1][0] - runs[0][1]) / BYTES_PER_MS
    assert abs(gap_ms - off_ms) <= RAMP_TOLERANCE_MS
    assert runs[0][0] / BYTES_PER_MS <= RAMP_TOLERANCE_MS  # the first tone starts at once


async def test_callee_talking_over_long_tones_does_not_cut_them(make_world: MakeWorld) -> None:
    digits = "1234567890"
    plan = _plan(
        Speak("Enter your account number.", 300),
        WaitForDigits(1, timeout_s=10),
        Speak("Keep going, I'm listening.", 400),  # talks over the remaining tones
        WaitForDigits(len(digits) - 1, timeout_s=5),
        WaitForModel(quiet_ms=100, timeout_s=5),
        HangUp(),
    )
    # The model says a few words and presses in the same response: the keys go out when
    # the response is complete, queued behind its words.
    after = Say("Entering the account number.", 300)
    script = _script(plan, (after, CallTool("send_dtmf", {"digits": digits})))
    world = await make_world(plan, script)
    # For every speech_started the model sent: (bytes still queued at the carrier, the
    # dtmf mark already echoed?).
    at_speech: list[tuple[int, bool]] = []

    def on_sent(session: FakeSession, event: dict[str, Any]) -> None:
        if event["type"] == "input_audio_buffer.speech_started":
            sim = _only_call(world.carrier.calls)
            echoed = any(is_dtmf_mark(e.name) for e in sim.mark_echoes)
            at_speech.append((sim.queued_bytes, echoed))

    watch_model(world, sent=on_sent)
    await world.place(TO, TASK)
    sim = await world.carrier.wait_call()
    await sim.wait_for(sim.ended.is_set, timeout=20)

    # The callee really did speak while most tones were still queued...
    tones_and_words = _framed_ms(len(digits) * (100 + 80)) + after.ms
    half_the_tones = len(digits) * (100 + 80) // 2 * BYTES_PER_MS
    assert any(not echoed and queued > half_the_tones for queued, echoed in at_speech), at_speech
    # ...and no clear was sent: every key played out and was heard, in order, and the
    # model's words after them too.
    assert events(sim, "clear") == [] and sim.clears == []
    assert sim.heard_digits == digits
    assert sim.script_timeouts == []
    runs = media_runs(sim)
    kinds = [is_dtmf_mark(name) for name, _ in runs]
    assert kinds == [False] * (len(kinds) - 1) + [True] and len(kinds) > 1  # words, then tones
    assert bytes(sim.played_audio) == b"".join(audio for _, audio in runs)
    assert sim.played_bytes == tones_and_words * BYTES_PER_MS
