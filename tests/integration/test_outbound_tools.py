"""The model's tools in a whole outbound call: send_dtmf plays every tone to the far end
before its result goes back, and bad tool calls get error results while the call goes on.
A recording hook (tests/helpers/phone.py) takes the carrier's state as the result arrives.
"""

from __future__ import annotations

from typing import Any

import orjson

from tests.helpers.carriers import facts
from tests.helpers.phone import (
    TO,
    function_outputs,
    media_bytes,
    tool_names,
    watch_model,
)
from tests.helpers.world import MakeWorld
from voicecall_rt.simulator.openai.session import FakeSession
from voicecall_rt.simulator.scenario import (
    CallPlan,
    CallTool,
    ModelScript,
    Say,
    Speak,
    WaitForDigits,
    callee_lines,
)

TASK = "Book a table for two tonight at 8pm under the name Kim."


async def test_send_dtmf_plays_tones_before_the_result(make_world: MakeWorld, carrier: str) -> None:
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
    assert len(at_result) == 1
    played, sent, queued = at_result[0]
    via = facts(carrier).keys_via
    [pressed] = [e["data"] for e in data["events"] if e["kind"] == "dtmf"]
    assert pressed["digits"] == "12#" and pressed["via"] == via
    if via == "audio":
        # In-band: the result went back only once every tone had played to the far end.
        assert sent >= 3 * 100 * 8  # three 100 ms tones at least
        assert played == sent and queued == 0
    else:
        # By the carrier's command or the stream's keypad message: no tones in our audio.
        assert sent == 0

    session = world.model.last_session
    [(index, output)] = function_outputs(session)
    assert tool_names(session)[output["call_id"]] == "send_dtmf"
    assert orjson.loads(output["output"]) == {"ok": True, "pressed": "1 2 #"}
    assert session.received_types()[index + 1] == "response.create"

    record = data["call"]
    assert record["status"] == "completed" and record["end_reason"] == "model-ended"
    system = [line["text"] for line in data["transcript"] if line["role"] == "system"]
    assert system == ["pressed 1 2 #"]


async def test_bad_tool_calls_get_error_results(make_world: MakeWorld, carrier: str) -> None:
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
    assert sim.rest_hang_ups == ["completed"]
    assert sim.heard_digits == ""
    errors = [e["data"]["name"] for e in data["events"] if e["kind"] == "tool.error"]
    assert sorted(errors) == ["play_hold_music", "report_outcome", "send_dtmf"]
