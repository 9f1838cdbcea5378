"""Carrier errors are shown to people (CLI, status): they must never carry the full SID."""

from __future__ import annotations

import pytest

from voicecall_rt.carrier.base import CarrierError
from voicecall_rt.carrier.twilio.rest import TwilioCarrier, mask_sid
from voicecall_rt.simulator.scenario import CallPlan
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
