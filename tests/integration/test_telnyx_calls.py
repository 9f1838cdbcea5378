"""Whole calls on the fake Telnyx: the stream requested in the dial, JSON webhooks signed
with Ed25519, decisions carried out by REST actions."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest
from nacl.signing import SigningKey

from tests.helpers.telnyx_world import telnyx_world
from voicecall_rt.simulator.scenario import (
    CallPlan,
    CallTool,
    ModelScript,
    Pause,
    Say,
    Speak,
    WaitForModel,
)
from voicecall_rt.simulator.scenarios import pizza_booking
from voicecall_rt.simulator.telnyx.webhooks import event_body, sign
from voicecall_rt.simulator.world import FROM_NUMBER

pytestmark = pytest.mark.slow  # real-time whole calls

CALLER = "+14155550177"
GREETING = "Tony's Pizza, Maria speaking. What can I get you?"
ORDER = "A large margherita for pickup, please."
GOODBYE = "One large margherita, ready in twenty minutes. Goodbye!"


async def test_pizza_call_completes_with_transcript_and_outcome(tmp_path: Path) -> None:
    scenario = pizza_booking(scale=0.3)
    async with telnyx_world(scenario.carrier, scenario.model, tmp_path) as (world, fake):
        call_id = await world.place(scenario.to_number, scenario.task)
        data = await world.wait_call(call_id)
    record = data["call"]
    assert record["status"] == "completed"
    assert record["end_reason"] == "model-ended"
    assert record["outcome"]["details"]["confirmation"] == "4472"
    roles = [line["role"] for line in data["transcript"]]
    assert roles.count("caller") == 5 and roles.count("assistant") == 5
    assert [e["kind"] for e in data["events"]].count("barge_in") == 1
    (sim,) = fake.calls.values()
    assert sim.protocol_errors == []
    assert sim.heard_digits == "1"
    assert record["carrier_sid"] == sim.sid
    dial = next(body for name, body in fake.requests if name == "dial")
    assert dial["stream_bidirectional_mode"] == "rtp"
    assert dial["stream_codec"] == dial["stream_bidirectional_codec"] == "PCMU"
    assert [w.params["event_type"] for w in sim.webhooks][-1] == "call.hangup"
    assert all(w.status is not None and w.status < 300 for w in sim.webhooks)
    # The callee's "press 1" went as Telnyx's send_dtmf, heard as tones.
    assert [body["digits"] for name, body in fake.requests if name == "send_dtmf"] == ["1"]


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
OPEN = {"inbound.enabled": True, "inbound.policy": "open", "inbound.greeting": GREETING}


async def test_inbound_call_is_answered_with_its_stream(tmp_path: Path) -> None:
    async with telnyx_world(ORDER_PLAN, ORDER_SCRIPT, tmp_path, **OPEN) as (world, fake):
        sim = await fake.place_inbound_call(
            from_number=CALLER, to_number=FROM_NUMBER, plan=ORDER_PLAN
        )
        async with asyncio.timeout(20):
            await sim.ended.wait()
        answer = next(body for name, body in fake.requests if name == "answer")
        assert answer["call_control_id"] == sim.sid
        assert answer["stream_bidirectional_mode"] == "rtp"
        assert answer["stream_codec"] == answer["stream_bidirectional_codec"] == "PCMU"
        assert sim.answered and sim.protocol_errors == [] and sim.played_bytes > 0
        status, data = await world.api("GET", "/api/calls")
        assert status == 200
        (record,) = data["calls"]
        assert record["direction"] == "inbound" and record["carrier_sid"] == sim.sid
        call = await world.wait_call(record["id"])
        assert call["call"]["status"] == "completed"
        texts = [line["text"] for line in call["transcript"]]
        assert GREETING in texts and ORDER in texts and GOODBYE in texts
        events = [w.params["event_type"] for w in sim.webhooks]
        assert events[0] == "call.initiated" and events[-1] == "call.hangup"
        assert all(w.status is not None and w.status < 300 for w in sim.webhooks)


async def test_forged_or_stale_webhooks_are_refused(tmp_path: Path) -> None:
    plan = CallPlan(callee=(WaitForModel(quiet_ms=200),))
    async with telnyx_world(plan, ModelScript(turns=()), tmp_path, **OPEN) as (world, fake):
        body = event_body("call.hangup", {"call_control_id": "v3:x", "hangup_cause": "timeout"})
        url = world.server.local_url + "/voice/status?call=call_0123456789abcdef"
        now = int(time.time())
        cases = {
            "unsigned": {},
            "forged": sign(body, now, SigningKey(bytes(range(32)))),
            "stale": sign(body, now - 301),
        }
        async with aiohttp.ClientSession() as http:
            for name, headers in cases.items():
                async with http.post(url, data=body, headers=headers) as response:
                    assert response.status == 403, name
            async with http.post(url, data=body, headers=sign(body, now)) as response:
                assert response.status == 204  # signed: read (an unknown call, ignored)
        fake.bad_signature = True  # the whole carrier signs with the wrong key
        sim = await fake.place_inbound_call(from_number=CALLER, to_number=FROM_NUMBER, plan=plan)
        await sim.wait_for(lambda: bool(sim.webhooks))
        assert sim.webhooks[0].status == 403
        assert not sim.answered and world.server.manager.active_count == 0


async def test_machine_verdicts_arrive_on_the_webhook_url(tmp_path: Path) -> None:
    """`call.machine.detection.ended` (machine: still greeting) then
    `call.machine.greeting.ended` (its beep: done); with the hang-up policy, we hang up."""
    plan = CallPlan(
        ring_ms=100, answered_by="machine_end_beep", amd_delay_ms=300, callee=(Pause(20_000),)
    )
    script = ModelScript(turns=((Say("Hello, this is a message.", 400),),))
    settings = {"calls.voicemail.policy": "hangup"}
    async with telnyx_world(plan, script, tmp_path, **settings) as (world, fake):
        call_id = await world.place("+14155550142", "Leave a message")
        data = await world.wait_call(call_id)
        (sim,) = fake.calls.values()
    record = data["call"]
    assert (record["status"], record["end_reason"]) == ("completed", "voicemail")
    assert record["answered_by"] == "beep_detected"
    amd = [e for e in data["events"] if e["kind"] == "amd"]
    assert [e["data"]["answered_by"] for e in amd] == ["machine", "beep_detected"]
    assert [name for name, _ in fake.requests] == ["dial", "hangup"]
    assert sim.status == "completed"
