"""Plivo's REST side (carrier/plivo/rest.py, account.py) through the official SDK against
the fake Plivo: the dial's parameters, a dial cancelled before answer, idempotent
hang-ups, keys pressed by REST, refusals, the account check."""

from __future__ import annotations

import pytest

from tests.helpers.plivo_server import FROM, PUBLIC, TO, outbound_request, plivo_and_stand_in
from voicecall_rt.carrier.base import CarrierError, OutboundRequest
from voicecall_rt.carrier.plivo.account import check_account
from voicecall_rt.carrier.plivo.rest import PlivoCarrier
from voicecall_rt.config import Settings
from voicecall_rt.simulator.plivo.fake import AUTH_ID, AUTH_TOKEN
from voicecall_rt.simulator.scenario import CallPlan

HOLD = '<Response><Speak>hello</Speak><Wait length="60"/></Response>'
NEVER_ANSWERED = CallPlan(ring_ms=60_000, answered_by=None)
ANSWERED = CallPlan(ring_ms=50, answered_by=None)


def _request(amd: bool = True) -> OutboundRequest:
    return outbound_request(amd=amd, query="?call=call_1")


async def test_dial_parameters_and_the_request_uuid() -> None:
    async with plivo_and_stand_in(HOLD, NEVER_ANSWERED) as (fake, _):
        carrier = PlivoCarrier(AUTH_ID, AUTH_TOKEN, fake.api_base_url)
        try:
            request_uuid = await carrier.create_call(_request())
        finally:
            await carrier.close()
        [body] = fake.created
        assert fake.requests[request_uuid] is next(iter(fake.calls.values()))
    expected = {
        "from": FROM.lstrip("+"),
        "to": TO.lstrip("+"),
        "answer_url": f"{PUBLIC}/voice/answer?call=call_1",
        "answer_method": "POST",
        "ring_url": f"{PUBLIC}/voice/status?call=call_1",
        "ring_method": "POST",
        "hangup_url": f"{PUBLIC}/voice/status?call=call_1",
        "hangup_method": "POST",
        "ring_timeout": 30,
        "time_limit": 600,
        "machine_detection": "true",
        "machine_detection_url": f"{PUBLIC}/voice/amd?call=call_1",
        "machine_detection_method": "POST",
    }
    assert {k: body[k] for k in expected} == expected


async def test_dial_without_amd_asks_for_none() -> None:
    async with plivo_and_stand_in(HOLD, NEVER_ANSWERED) as (fake, _):
        carrier = PlivoCarrier(AUTH_ID, AUTH_TOKEN, fake.api_base_url)
        try:
            await carrier.create_call(_request(amd=False))
        finally:
            await carrier.close()
        [body] = fake.created
    assert "machine_detection" not in body and "machine_detection_url" not in body


async def test_hang_up_before_answer_cancels_the_request_idempotently() -> None:
    async with plivo_and_stand_in(HOLD, NEVER_ANSWERED) as (fake, _):
        carrier = PlivoCarrier(AUTH_ID, AUTH_TOKEN, fake.api_base_url)
        try:
            request_uuid = await carrier.create_call(_request())
            sim = await fake.wait_call()
            await carrier.hang_up(request_uuid)
            await sim.wait_for(lambda: sim.ended.is_set())
            await carrier.hang_up(request_uuid)  # over already: still a success
            await carrier.hang_up(sim.sid)  # by its CallUUID too
        finally:
            await carrier.close()
    deletes = [(m, p.split("/")[4], s) for m, p, s in fake.rest_log if m == "DELETE"]
    assert deletes == [
        ("DELETE", "Request", 204),
        ("DELETE", "Request", 404),
        ("DELETE", "Call", 404),
    ]
    assert sim.status == "canceled" and not sim.answered
    [hangup] = [params for path, params in _posts(fake) if params.get("Event") == "Hangup"]
    assert hangup["CallStatus"] == "cancel" and hangup["RequestUUID"] == request_uuid


def _posts(fake: object) -> list[tuple[str, dict[str, str]]]:
    return [(w.url, w.params) for w in getattr(fake, "webhooks", [])]


async def test_hang_up_after_answer_and_keys_by_rest() -> None:
    async with plivo_and_stand_in(HOLD, ANSWERED) as (fake, stand_in):
        carrier = PlivoCarrier(AUTH_ID, AUTH_TOKEN, fake.api_base_url)
        try:
            request_uuid = await carrier.create_call(_request(amd=False))
            sim = await fake.wait_call()
            await sim.wait_for(lambda: sim.said == ["hello"])
            assert await carrier.send_digits(sim.sid, "12#") is True
            assert sim.heard_digits == "12#" and fake.digits_sent == [(sim.sid, "12#")]
            # The request was answered: cancelling it is a 404, taken as done.
            await carrier.hang_up(request_uuid)
            assert not sim.is_final
            await carrier.hang_up(sim.sid)
            await sim.wait_for(lambda: sim.ended.is_set())
            await carrier.hang_up(sim.sid)  # already over: idempotent
            with pytest.raises(CarrierError) as refused:
                await carrier.send_digits(sim.sid, "1")
            assert refused.value.status == 404
        finally:
            await carrier.close()
    statuses = [(m, p.split("/")[4], s) for m, p, s in fake.rest_log if m == "DELETE"]
    assert statuses == [
        ("DELETE", "Request", 404),
        ("DELETE", "Call", 204),
        ("DELETE", "Call", 404),
    ]
    assert sim.status == "completed"
    [answer] = [params for path, params in stand_in.posts if path == "/voice/answer"]
    assert answer["RequestUUID"] == request_uuid and answer["CallUUID"] == sim.sid


async def test_refusals_are_carrier_errors_without_secrets() -> None:
    async with plivo_and_stand_in(HOLD, NEVER_ANSWERED) as (fake, _):
        wrong = PlivoCarrier(AUTH_ID, AUTH_TOKEN + "-wrong", fake.api_base_url)
        carrier = PlivoCarrier(AUTH_ID, AUTH_TOKEN, fake.api_base_url)
        try:
            with pytest.raises(CarrierError) as refused:
                await wrong.create_call(_request())
            message = str(refused.value)
            assert AUTH_TOKEN not in message and AUTH_ID not in message
            not_ours = OutboundRequest(**{**_request().__dict__, "from_": "+14155550999"})
            with pytest.raises(CarrierError, match="not a number of this account"):
                await carrier.create_call(not_ours)
            with pytest.raises(CarrierError) as unknown:
                await carrier.send_digits("6f0c7d8e-0000-4000-8000-000000000000", "1")
            assert unknown.value.status == 404
        finally:
            await wrong.close()
            await carrier.close()
        assert fake.calls == {}


def _settings(base_url: str, token: str = AUTH_TOKEN, number: str = FROM) -> Settings:
    return Settings.model_validate(
        {
            "carrier": "plivo",
            "plivo": {"authId": AUTH_ID, "authToken": token, "apiBaseUrl": base_url},
            "fromNumber": number,
        }
    )


async def test_account_check() -> None:
    async with plivo_and_stand_in(HOLD) as (fake, _):
        good = await check_account(_settings(fake.api_base_url))
        stranger = await check_account(_settings(fake.api_base_url, number="+14155550999"))
        refused = await check_account(_settings(fake.api_base_url, token="wrong-token"))
    assert [(c.name, c.ok) for c in good] == [("plivo", True), ("fromNumber", True)]
    assert "MASI…O001" in good[0].detail and AUTH_ID not in good[0].detail
    assert [(c.name, c.ok) for c in stranger] == [("plivo", True), ("fromNumber", False)]
    [line] = refused
    assert line.name == "plivo" and not line.ok and "wrong-token" not in line.detail
    unset = await check_account(Settings.model_validate({"carrier": "plivo"}))
    assert [(c.name, c.ok) for c in unset] == [("plivo", False)]
