"""Our SignalWire REST client (the twilio SDK at <space>/api/laml) against the fake
SignalWire over loopback: what a dial sends (no TimeLimit; async AMD), hang-ups that are
idempotent, refusals as safe CarrierErrors, and `status`'s account check."""

from __future__ import annotations

import pytest

from tests.helpers.fake_twilio_harness import OurServer
from tests.helpers.signalwire_bench import (
    API_TOKEN,
    CALLS,
    OUR_NUMBER,
    PROJECT_ID,
    PUBLIC,
    SIGNING_KEY,
    make_fake,
)
from voicecall_rt.carrier.base import CarrierError, OutboundRequest
from voicecall_rt.carrier.signalwire import account
from voicecall_rt.carrier.signalwire.build import build
from voicecall_rt.carrier.signalwire.rest import SignalWireCarrier
from voicecall_rt.carrier.signalwire.webhooks import SignalWireWebhooks
from voicecall_rt.carrier.signalwire.wire import SignalWireStreamCodec
from voicecall_rt.carrier.twilio.rest import TwilioCarrier
from voicecall_rt.config import Settings
from voicecall_rt.simulator.scenario import CallPlan


def outbound(amd: bool = True) -> OutboundRequest:
    return OutboundRequest(
        to="+15550002222",
        from_=OUR_NUMBER,
        answer_url=f"{PUBLIC}/voice/answer?call=c1",
        status_url=f"{PUBLIC}/voice/status?call=c1",
        ring_timeout_s=25,
        time_limit_s=600,
        amd_url=f"{PUBLIC}/voice/amd?call=c1" if amd else None,
    )


def settings(base_url: str, *, token: str = API_TOKEN, number: str = OUR_NUMBER) -> Settings:
    return Settings.model_validate(
        {
            "carrier": "signalwire",
            "fromNumber": number,
            "signalwire": {
                "projectId": PROJECT_ID,
                "apiToken": token,
                "signingKey": SIGNING_KEY,
                "apiBaseUrl": base_url,
            },
        }
    )


async def test_dial_sends_signalwires_fields_and_no_time_limit(server: OurServer) -> None:
    async with make_fake(server) as fake:
        carrier = SignalWireCarrier(PROJECT_ID, API_TOKEN, fake.api_base_url)
        try:
            assert carrier.streams_at_dial is False
            sid = await carrier.create_call(outbound())
            call = await fake.wait_call()
            assert sid == call.sid
            assert await carrier.send_digits(sid, "123") is False
            await carrier.hang_up(sid)
            await call.wait_for(lambda: call.ended.is_set())
            await carrier.hang_up(sid)  # again: a call already over is hung up
            await carrier.create_call(outbound(amd=False))
        finally:
            await carrier.close()

    create = [r for r in fake.requests if r.method == "POST" and r.path == CALLS]
    assert [r.status for r in create] == [201, 201]
    params = create[0].params
    assert "TimeLimit" not in params
    assert params["Url"] == [f"{PUBLIC}/voice/answer?call=c1"]
    assert params["StatusCallback"] == [f"{PUBLIC}/voice/status?call=c1"]
    assert params["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    assert params["Timeout"] == ["25"]
    assert params["MachineDetection"] == ["DetectMessageEnd"]
    assert params["AsyncAmd"] == ["true"]
    assert params["AsyncAmdStatusCallback"] == [f"{PUBLIC}/voice/amd?call=c1"]
    assert "MachineDetection" not in create[1].params
    updates = [u for u in fake.updates if u.call_sid == sid]
    assert [(u.params["Status"], u.status) for u in updates] == [
        (["completed"], 200),
        (["completed"], 200),
    ]


async def test_a_refused_hang_up_of_an_ended_call_is_success(
    server: OurServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refused(self: TwilioCarrier, call_sid: str) -> None:
        raise CarrierError("SignalWire refused the request (422)", status=422)

    async with make_fake(server, plans=CallPlan(ring_ms=20, answer="busy")) as fake:
        carrier = SignalWireCarrier(PROJECT_ID, API_TOKEN, fake.api_base_url)
        try:
            sid = await carrier.create_call(outbound())
            call = await fake.wait_call()
            await call.wait_for(lambda: call.ended.is_set())
            monkeypatch.setattr(TwilioCarrier, "hang_up", refused)
            await carrier.hang_up(sid)  # the call is over (busy): nothing to raise
            live = await carrier.create_call(outbound())
            second = await fake.wait_call()
            assert second.sid == live and not second.is_final
            with pytest.raises(CarrierError, match="422"):
                await carrier.hang_up(live)  # still ringing: the refusal stands
        finally:
            await carrier.close()


async def test_refusals_are_safe_carrier_errors(server: OurServer) -> None:
    async with make_fake(server) as fake:
        wrong = SignalWireCarrier(PROJECT_ID, SIGNING_KEY, fake.api_base_url)
        try:
            with pytest.raises(CarrierError) as refused:
                await wrong.create_call(outbound())
        finally:
            await wrong.close()
        carrier = SignalWireCarrier(PROJECT_ID, API_TOKEN, fake.api_base_url)
        try:
            with pytest.raises(CarrierError) as unknown:
                await carrier.hang_up("00000000-0000-4000-8000-000000000000")
        finally:
            await carrier.close()
    assert refused.value.status == 401
    message = str(refused.value)
    assert message.startswith("SignalWire refused the request (401")
    assert SIGNING_KEY not in message and PROJECT_ID not in message
    assert unknown.value.status == 404 and PROJECT_ID not in str(unknown.value)


async def test_unreachable_space_is_a_carrier_error() -> None:
    carrier = SignalWireCarrier(PROJECT_ID, API_TOKEN, "http://127.0.0.1:9")
    try:
        with pytest.raises(CarrierError, match="cannot reach SignalWire"):
            await carrier.create_call(outbound())
    finally:
        await carrier.close()


async def test_build_makes_the_three_parts(server: OurServer) -> None:
    async with make_fake(server) as fake:
        carrier = build(settings(fake.api_base_url))
        try:
            assert isinstance(carrier.api, SignalWireCarrier)
            assert isinstance(carrier.webhooks, SignalWireWebhooks)
            assert isinstance(carrier.codec, SignalWireStreamCodec)
        finally:
            await carrier.close()
    unconfigured = build(Settings.model_validate({"carrier": "signalwire"}))
    assert unconfigured.api is None
    assert isinstance(unconfigured.webhooks, SignalWireWebhooks)


async def test_account_check_passes_through_the_fake(server: OurServer) -> None:
    async with make_fake(server) as fake:
        checks = await account.check_account(settings(fake.api_base_url))
        wrong_token = await account.check_account(settings(fake.api_base_url, token="nope"))
        not_ours = await account.check_account(settings(fake.api_base_url, number="+15550009999"))
    assert [(c.name, c.ok) for c in checks] == [("signalwire", True), ("fromNumber", True)]
    assert checks[0].detail == "project 5e5e…5e5e is active"
    assert [(c.name, c.ok) for c in wrong_token] == [("signalwire", False)]
    assert "401" in wrong_token[0].detail and PROJECT_ID not in wrong_token[0].detail
    assert [(c.name, c.ok) for c in not_ours] == [("signalwire", True), ("fromNumber", False)]
    account_reads = [r.path for r in fake.requests if r.method == "GET"]
    assert f"/api/laml/2010-04-01/Accounts/{PROJECT_ID}.json" in account_reads
    assert f"/api/laml/2010-04-01/Accounts/{PROJECT_ID}/IncomingPhoneNumbers.json" in account_reads


async def test_account_check_without_credentials_says_what_is_missing() -> None:
    blank = Settings.model_validate({"carrier": "signalwire"})
    (check,) = await account.check_account(blank)
    assert not check.ok and "signalwire.projectId" in check.detail
