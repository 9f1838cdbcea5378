"""Whole calls on SignalWire: our real server against the fake SignalWire and the fake model
(`SimWorld(carrier="signalwire")`). The pizzeria call completes with its transcript and
outcome, an inbound call is answered and bridged, and a webhook not signed with the
project's Signing Key gets 403 before any work."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import aiohttp
import pytest
from twilio.request_validator import RequestValidator

from voicecall_rt.simulator.scenario import (
    CallPlan,
    HangUp,
    ModelScript,
    Say,
    WaitForModel,
)
from voicecall_rt.simulator.scenarios import pizza_booking
from voicecall_rt.simulator.signalwire.fake import API_TOKEN, PROJECT_ID, SIGNING_KEY
from voicecall_rt.simulator.sim_call import SimCall
from voicecall_rt.simulator.twilio.carrier import FakeTwilio
from voicecall_rt.simulator.world import FROM_NUMBER, PUBLIC_URL, SimWorld

pytestmark = pytest.mark.slow  # whole calls at real pace, outside `make_world`

UUID = re.compile(r"^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$")
CALLER = "+14155550177"
GREETING = "SignalWire Pizza, how can I help?"
# The caller hears the greeting, then hangs up; the model only greets.
HEAR_AND_HANG_UP = CallPlan(callee=(WaitForModel(quiet_ms=200, timeout_s=5), HangUp()))
GREET = ModelScript(turns=((Say(GREETING, 400),),))
OPEN = {"inbound.enabled": True, "inbound.policy": "open", "inbound.greeting": GREETING}


def fake_of(world: SimWorld) -> FakeTwilio:
    fake = world.carrier
    assert isinstance(fake, FakeTwilio) and fake.dialect.name == "SignalWire"
    return fake


def only_call(world: SimWorld) -> SimCall:
    (call,) = world.carrier.calls.values()
    return call


async def test_the_pizzeria_call_completes_on_signalwire(tmp_path: Path) -> None:
    scenario = pizza_booking(scale=0.3)
    async with SimWorld(scenario.carrier, scenario.model, tmp_path, carrier="signalwire") as world:
        call_id = await world.place(scenario.to_number, scenario.task)
        data = await world.wait_call(call_id)
        fake = fake_of(world)
        call = only_call(world)

    record = data["call"]
    assert record["status"] == "completed"
    assert record["end_reason"] == "model-ended"
    assert record["outcome"]["success"] is True
    assert record["outcome"]["details"]["confirmation"] == "4472"
    assert record["carrier_sid"] == call.sid and UUID.fullmatch(call.sid)
    roles = [line["role"] for line in data["transcript"]]
    assert roles.count("caller") == 5 and roles.count("assistant") == 5

    # SignalWire's way: /api/laml, no TimeLimit, cXML with the codec, its stream, signed hooks.
    (create,) = [r for r in fake.requests if r.path.endswith("/Calls.json")]
    assert create.path == f"/api/laml/2010-04-01/Accounts/{PROJECT_ID}/Calls.json"
    assert create.status == 201 and "TimeLimit" not in create.params
    assert 'codec="PCMU@8000h"' in call.twiml[0]
    assert call.stream_url == "wss://voice.voicecall-rt.test/voice/realtime-stream"
    assert call.start_message is not None and "streamSid" not in call.start_message
    assert call.protocol_errors == [] and call.notifications == []
    assert fake.webhooks and all(hook.status in (200, 204) for hook in fake.webhooks)
    assert [u.params.get("Status") for u in fake.updates] == [["completed"]]


async def test_an_inbound_call_is_answered_and_bridged(tmp_path: Path) -> None:
    async with SimWorld(
        HEAR_AND_HANG_UP, GREET, tmp_path, carrier="signalwire", settings=OPEN
    ) as world:
        call = await world.carrier.place_inbound_call(
            from_number=CALLER, to_number=FROM_NUMBER, plan=HEAR_AND_HANG_UP
        )
        async with asyncio.timeout(20):
            await call.ended.wait()
        status, listing = await world.api("GET", "/api/calls")
        assert status == 200
        (stored,) = listing["calls"]
        data = await world.wait_call(stored["id"])

    assert call.script_timeouts == []  # the greeting came first, unprompted
    assert 'codec="PCMU@8000h"' in call.twiml[0] and call.start_message is not None
    record = data["call"]
    assert record["direction"] == "inbound" and record["carrier_sid"] == call.sid
    assert record["from_number"] == CALLER and record["status"] == "completed"
    lines = [(line["role"], line["text"]) for line in data["transcript"]]
    assert lines == [("assistant", GREETING)]


async def test_webhooks_not_signed_with_the_signing_key_get_403(tmp_path: Path) -> None:
    async with SimWorld(HEAR_AND_HANG_UP, GREET, tmp_path, carrier="signalwire") as world:
        path = "/voice/status?call=call_unknown"
        form = {"AccountSid": PROJECT_ID, "CallSid": PROJECT_ID, "CallStatus": "completed"}
        answers = {}
        async with aiohttp.ClientSession() as http:
            for name, key, header in (
                ("api token", API_TOKEN, "X-SignalWire-Signature"),
                ("forged", SIGNING_KEY + "x", "X-SignalWire-Signature"),
                ("unsigned", None, ""),
                ("signing key", SIGNING_KEY, "X-SignalWire-Signature"),
            ):
                headers = {}
                if key is not None:
                    signature = RequestValidator(key).compute_signature(PUBLIC_URL + path, form)
                    headers[header] = signature
                async with http.post(
                    world.server.local_url + path, data=form, headers=headers
                ) as response:
                    answers[name] = response.status

        # The fake itself, signing with a wrong key: every webhook of its call is refused.
        fake = fake_of(world)
        fake.bad_signature = True
        await world.place("+14155550123", "Order a pizza")
        call = await world.carrier.wait_call()
        async with asyncio.timeout(10):
            await call.ended.wait()

    assert answers == {"api token": 403, "forged": 403, "unsigned": 403, "signing key": 204}
    assert fake.webhooks and {hook.status for hook in fake.webhooks} == {403}
    assert call.stream_url is None  # no cXML was ever served to it
