"""Our Telnyx REST client (carrier.telnyx.rest, through the official SDK) against the fake
Telnyx: the dial's parameters exactly, hang-up idempotent on 90018, refusals, send_dtmf,
the account check."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.helpers.telnyx_fake import OUR_NUMBER, PUBLIC, fake_telnyx
from voicecall_rt.carrier.base import CarrierError, Connect, OutboundRequest
from voicecall_rt.carrier.telnyx.account import check_account
from voicecall_rt.carrier.telnyx.rest import TelnyxCarrier, telnyx_digits
from voicecall_rt.carrier.telnyx.wire import client_state
from voicecall_rt.config import Settings
from voicecall_rt.simulator.scenario import CallPlan
from voicecall_rt.simulator.telnyx.fake import API_KEY, CONNECTION_ID

CALLEE = "+14155550142"
STREAM = Connect("wss://hooks.telnyx-test.example/voice/realtime-stream", "tok_ABC-123")
RINGING = CallPlan(ring_ms=60_000)  # never picks up within the test


def _request(*, amd: bool = True, stream: Connect | None = STREAM, **extra: Any) -> OutboundRequest:
    base: dict[str, Any] = {
        "to": CALLEE,
        "from_": OUR_NUMBER,
        "answer_url": f"{PUBLIC}/voice/answer?call=call_1",
        "status_url": f"{PUBLIC}/voice/status?call=call_1",
        "ring_timeout_s": 30,
        "time_limit_s": 600,
        "amd_url": f"{PUBLIC}/voice/amd?call=call_1" if amd else None,
        "stream": stream,
    }
    base.update(extra)
    return OutboundRequest(**base)


async def test_dial_asks_for_exactly_our_stream_and_detection() -> None:
    async with fake_telnyx(RINGING) as (fake, api, _):
        sid = await api.create_call(_request())
        (name, body), *_ = fake.requests
        assert name == "dial" and sid in fake.calls
        assert body == {
            "connection_id": CONNECTION_ID,
            "to": CALLEE,
            "from": OUR_NUMBER,
            "webhook_url": f"{PUBLIC}/voice/status?call=call_1",
            "webhook_url_method": "POST",
            "timeout_secs": 30,
            "time_limit_secs": 600,
            "stream_url": STREAM.stream_url,
            "stream_track": "inbound_track",
            "stream_bidirectional_mode": "rtp",
            "stream_codec": "PCMU",
            "stream_bidirectional_codec": "PCMU",
            "client_state": client_state("out", STREAM.token),
            "answering_machine_detection": "greeting_end",
        }
        assert api.streams_at_dial is True


async def test_dial_without_detection_or_stream() -> None:
    async with fake_telnyx(RINGING) as (fake, api, _):
        await api.create_call(_request(amd=False))
        assert "answering_machine_detection" not in fake.requests[0][1]
        with pytest.raises(CarrierError, match="stream"):
            await api.create_call(_request(stream=None))


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"from_": "+14155550999"}, "from"),  # not one of the account's numbers
        ({"to": "12345"}, "to"),
        ({"ring_timeout_s": 601}, "timeout_secs"),
        ({"time_limit_s": 14_401}, "time_limit_secs"),
        ({"status_url": "http://plain.example/voice/status"}, "webhook_url"),
    ],
)
async def test_dial_refusals_become_carrier_errors(change: dict[str, Any], pointer: str) -> None:
    async with fake_telnyx(RINGING) as (fake, api, _):
        with pytest.raises(CarrierError) as caught:
            await api.create_call(_request(**change))
        assert caught.value.status == 422 and caught.value.code == 10015
        assert f": {pointer} " in str(caught.value)  # the title names the field
        assert fake.calls == {}


async def test_a_wrong_key_is_refused_without_showing_it() -> None:
    async with fake_telnyx(RINGING) as (fake, _, _):
        wrong = TelnyxCarrier("KEY-not-the-right-one-0123", CONNECTION_ID, fake.api_base_url)
        try:
            with pytest.raises(CarrierError) as caught:
                await wrong.create_call(_request())
        finally:
            await wrong.close()
        assert caught.value.status == 401
        assert "KEY-not" not in str(caught.value) and API_KEY not in str(caught.value)


async def test_hang_up_is_idempotent_on_90018() -> None:
    async with fake_telnyx(RINGING) as (fake, api, receiver):
        sid = await api.create_call(_request())
        call = fake.calls[sid]
        await api.hang_up(sid)
        await call.wait_for(call.ended.is_set)
        assert call.status == "canceled"  # hung up while ringing
        assert receiver.types()[-1] == "call.hangup"
        assert receiver.events[-1][1]["hangup_cause"] == "originator_cancel"
        # The fake answers the second one as Telnyx does; our client takes it as done.
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{fake.api_base_url}/calls/{sid}/actions/hangup",
                headers={"Authorization": f"Bearer {API_KEY}"},
                json={},
            ) as response,
        ):
            assert response.status == 422
            assert (await response.json())["errors"][0]["code"] == "90018"
        await api.hang_up(sid)
        assert [name for name, _ in fake.requests].count("hangup") == 3


async def test_hang_up_of_an_unknown_call_is_an_error() -> None:
    async with fake_telnyx(RINGING) as (_, api, _):
        with pytest.raises(CarrierError) as caught:
            await api.hang_up("v3:no-such-call")
        assert caught.value.status == 404


def test_our_pause_is_telnyx_w() -> None:
    assert telnyx_digits("12,#") == "12w#"


async def test_send_dtmf_needs_an_answered_call() -> None:
    async with fake_telnyx(RINGING) as (fake, api, _):
        sid = await api.create_call(_request())
        with pytest.raises(CarrierError) as caught:
            await api.send_digits(sid, "1,2")
        assert caught.value.status == 422
        assert fake.requests[-1] == (
            "send_dtmf",
            {"call_control_id": sid, "digits": "1w2", "duration_millis": 250},
        )


def _settings(base_url: str, **extra: Any) -> Settings:
    section = {"apiKey": API_KEY, "connectionId": CONNECTION_ID, "apiBaseUrl": base_url}
    section.update(extra)
    return Settings.model_validate(
        {"carrier": "telnyx", "fromNumber": OUR_NUMBER, "telnyx": section}
    )


async def test_account_check_through_the_fake() -> None:
    async with fake_telnyx() as (fake, _, _):
        checks = await check_account(_settings(fake.api_base_url))
        assert [(c.name, c.ok) for c in checks] == [("telnyx", True), ("fromNumber", True)]
        assert "balance 100.00 USD" in checks[0].detail
        other = _settings(fake.api_base_url).model_copy(update={"from_number": "+14155550999"})
        checks = await check_account(other)
        assert checks[-1].ok is False and "is not a number of this account" in checks[-1].detail
        checks = await check_account(_settings(fake.api_base_url, apiKey="KEY-wrong-0123456789"))
        assert [(c.name, c.ok) for c in checks] == [("telnyx", False)]
        assert "401" in checks[0].detail and "KEY-wrong" not in checks[0].detail


async def test_account_check_without_a_key() -> None:
    checks = await check_account(Settings.model_validate({"carrier": "telnyx"}))
    assert [(c.name, c.ok) for c in checks] == [("telnyx", False)]
