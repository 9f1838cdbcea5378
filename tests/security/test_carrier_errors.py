"""Carrier errors are shown to people (CLI, status, the API): they must never carry a
secret or a full account id, on any carrier."""

from __future__ import annotations

import logging

import orjson
import pytest

from tests.helpers.carrier_inputs import INPUTS, all_secrets
from tests.helpers.world import MakeWorld
from voicecall_rt.carrier.base import CarrierError
from voicecall_rt.carrier.twilio.rest import TwilioCarrier, mask_sid
from voicecall_rt.simulator.scenario import CallPlan, ModelScript
from voicecall_rt.simulator.twilio.carrier import FakeTwilio
from voicecall_rt.simulator.twilio.fake import ACCOUNT_SID, AUTH_TOKEN


async def test_not_found_error_masks_the_account_sid() -> None:
    async with FakeTwilio(
        account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, tunnel={}, plans=CallPlan()
    ) as fake:
        carrier = TwilioCarrier(ACCOUNT_SID, AUTH_TOKEN, fake.api_base_url)
        try:
            with pytest.raises(CarrierError) as caught:
                await carrier.hang_up("CA" + "0" * 32)
        finally:
            await carrier.close()
    message = str(caught.value)
    assert caught.value.status == 404
    assert ACCOUNT_SID not in message
    assert mask_sid(ACCOUNT_SID) in message  # the path was quoted, masked


async def test_refused_credentials_error_names_no_secret() -> None:
    async with FakeTwilio(
        account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, tunnel={}, plans=CallPlan()
    ) as fake:
        carrier = TwilioCarrier(ACCOUNT_SID, "wrong-token-value", fake.api_base_url)
        try:
            with pytest.raises(CarrierError) as caught:
                await carrier.fetch_account_status()
        finally:
            await carrier.close()
    message = str(caught.value)
    assert caught.value.status == 401
    assert "wrong-token-value" not in message and AUTH_TOKEN not in message
    assert ACCOUNT_SID not in message


async def test_refused_dial_shows_no_secret_on_every_carrier(
    make_world: MakeWorld, caplog: pytest.LogCaptureFixture, carrier: str
) -> None:
    """Our server's carrier credential is wrong: the dial is refused, and what the API
    answers, the call's record and the logs say so without any secret or full account id."""
    caplog.set_level(logging.DEBUG)
    inputs = INPUTS[carrier]
    wrong = "not-the-credential-" + "7" * 16
    world = await make_world(CallPlan(), ModelScript(), **{inputs.credential_key: wrong})
    status, body = await world.api("POST", "/api/calls", {"to": "+14155550123", "task": "Hi."})
    assert (status, body["error"]["code"]) == (502, "carrier"), body
    assert world.carrier.calls == {}  # nothing was dialled
    _, listing = await world.api("GET", "/api/calls")
    shown = orjson.dumps([body, listing]).decode()
    logs = "\n".join(record.getMessage() for record in caplog.records)
    for name, secret in {**all_secrets(), "the wrong credential": wrong}.items():
        assert secret not in shown, f"{name} in an API answer"
        assert secret not in logs, f"{name} in the logs"
    if inputs.account_id:
        assert inputs.account_id not in shown
    # The refused call is in the record, settled with the carrier's (masked) reason.
    [call] = listing["calls"]
    assert (call["status"], call["end_reason"]) == ("failed", "carrier"), call
    assert call["error"] == body["error"]["message"]
