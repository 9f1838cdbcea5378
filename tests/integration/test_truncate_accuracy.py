"""Truncation at the millisecond heard (issue 9 point 7): the `audio_end_ms` we send on a
barge-in is within ±30 ms of what the fake carrier had played of the item when our `clear`
reached it, never above what was generated, and costs no marks beyond one per delta.

The model generates faster than real time (pace 0: everything queued at the carrier, played
back to back), at real time (pace 1: each delta arrives about as the last one ends) and
slower (pace 1.5: the carrier runs dry between deltas), so both ways our server counts
between echoes (from the last echo, or, before the first echo and after a gap, from half a
frame after the audio was sent) are exercised. "What was played" comes from the carrier's
own books: the bytes it was sent before the clear, less what the clear dropped, less the
audio of earlier items; the fake plays by its clock even when its tick task runs late.
"""

from __future__ import annotations

import pytest

from tests.helpers.phone import (
    TASK,
    TO,
    events,
    is_item_mark,
    kind,
    mark_name,
    media_owner,
    payload_bytes,
)
from tests.helpers.world import MakeWorld
from voicecall_rt.simulator.openai.turn_timing import SERVER_VAD_SILENCE_MS
from voicecall_rt.simulator.scenario import (
    CallPlan,
    CallTool,
    ModelScript,
    Pause,
    Say,
    Speak,
    WaitForHeard,
    callee_lines,
)

# One worker runs these calls one after another (pyproject: --dist loadgroup): twenty
# real-time calls at once on two cores would add the event loops' lag to what is measured.
pytestmark = pytest.mark.xdist_group("truncate-accuracy")

BYTES_PER_MS = 8
TOLERANCE_MS = 30
LONG_ANSWER = Say(
    "Thanks for picking up. I'm calling on behalf of Alex Chen about the invoice you sent "
    "last week, because there seem to be two charges for the same delivery and we would like",
    3000,
)
# Server VAD ends the callee's turn after a fixed silence, so "talk over the answer N ms
# in" is a fixed pause; semantic VAD's wait depends on the words and may be retuned.
SERVER_VAD = {"vad.type": "server_vad"}


@pytest.mark.parametrize(
    ("pace", "delta_ms", "talk_over_ms"),
    [(1.0, 1000, 10), (0.0, 100, 1000), (0.0, 100, 1230), (1.0, 100, 1100), (1.5, 200, 1260)],
    # First delta: the cut comes before any echo. The callee talks once a 20 ms frame of the
    # answer has played and the fake model hears speech 60 ms into it, so the clear lands
    # ~80 ms in, plus four hops on the event loop, which a cold worker on a loaded machine
    # has stretched to 300 ms: a 1 s delta keeps it inside the first. At real time, so the
    # fake carrier reads that delta as it is sent, not behind a burst of the others on the
    # one event loop every fake shares with our server (no real carrier shares our CPU).
    # With gaps: 200 ms deltas arrive every 300 ms, so talking 1260 ms in lands ~100 ms into
    # a delta that began after the carrier ran dry.
    ids=["first-delta", "queued-ahead", "queued-ahead-later", "real-time", "with-gaps"],
)
async def test_truncate_is_within_30ms_of_what_the_carrier_played(
    make_world: MakeWorld, carrier: str, pace: float, delta_ms: int, talk_over_ms: int
) -> None:
    plan = CallPlan(
        ring_ms=100,
        answered_by=None,
        callee=(
            Speak("Hello, who is this?", 300),
            # Within the first delta: once that much of the answer was heard (a pause could
            # end before the answer even starts on a slow start); later: by the clock.
            WaitForHeard(talk_over_ms)
            if talk_over_ms < delta_ms
            else Pause(SERVER_VAD_SILENCE_MS + talk_over_ms),
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
    world = await make_world(plan, script, **SERVER_VAD)
    world.model.pace = pace
    world.model.delta_ms = delta_ms
    call_id = await world.place(TO, TASK)
    sim = await world.carrier.wait_call()
    data = await world.wait_call(call_id)
    session = world.model.last_session

    [truncate] = [e for e in session.received if e["type"] == "conversation.item.truncate"]
    cut_item, audio_end_ms = truncate["item_id"], truncate["audio_end_ms"]

    # The carrier's books at the clear: it plays in order, so everything sent before the cut
    # item's audio had played, and of the item, what was sent less what the clear dropped.
    [clear_at] = events(sim, "clear")
    [dropped] = sim.clears
    sent = before_item = item_sent = 0
    for i in events(sim, "media"):
        if i > clear_at:
            break
        size = len(payload_bytes(sim.received[i]))
        sent += size
        if is_item_mark(media_owner(sim, i), cut_item):
            item_sent += size
        elif not item_sent:
            before_item += size
    played_ms = min(max(sent - dropped - before_item, 0), item_sent) / BYTES_PER_MS
    assert 0 < played_ms < LONG_ANSWER.ms, "the barge-in did not land inside the answer"
    if talk_over_ms < delta_ms:
        assert played_ms < delta_ms, "meant to cut the first delta, before any echo"

    error_ms = audio_end_ms - played_ms
    assert abs(error_ms) <= TOLERANCE_MS, (
        f"pace {pace}: truncated at {audio_end_ms} ms, the carrier had played {played_ms} ms"
    )
    assert audio_end_ms <= session.item_audio_ms(cut_item)
    assert session.truncations == [(cut_item, audio_end_ms)]
    [barge_in] = [e for e in data["events"] if e["kind"] == "barge_in"]
    assert barge_in["data"]["items"] == [{"item_id": cut_item, "audio_end_ms": audio_end_ms}]

    # No extra marks: one per model delta that reached the carrier, each right after its
    # audio; the only other mark is the goodbye's.
    deltas = [e for e in session.sent if e["type"] == "response.output_audio.delta"]
    media = events(sim, "media")
    marks = [mark_name(sim.received[i]) for i in events(sim, "mark")]
    audio_marks = [name for name in marks if ":" in name]
    assert len(audio_marks) == len(media) <= len(deltas)
    assert all(kind(sim.received[i + 1]) == "mark" for i in media)
    assert len(marks) - len(audio_marks) <= 1
    for item_id in {e["item_id"] for e in deltas}:
        sent = sum(1 for e in deltas if e["item_id"] == item_id)
        marked = sum(1 for name in audio_marks if is_item_mark(name, item_id))
        # The cut item's deltas still in flight after the clear are dropped, marks and all.
        assert marked == sent if item_id != cut_item else 0 < marked <= sent
