"""The fake SignalWire's test bench: the fake Twilio's app playing our server
(tests/helpers/fake_twilio_harness.py) with the fake in SignalWire's dialect, its REST
paths and credentials, and the cXML our server would answer with."""

from __future__ import annotations

from typing import Any

import aiohttp
from twilio.request_validator import RequestValidator

from tests.helpers.fake_twilio_harness import CALLEE, OUR_NUMBER, PUBLIC, OurServer, create_form
from voicecall_rt.simulator.scenario import CallPlan
from voicecall_rt.simulator.signalwire.fake import (
    API_TOKEN,
    PROJECT_ID,
    SIGNING_KEY,
    fake_signalwire,
)
from voicecall_rt.simulator.sim_call import SentWebhook, SimCall
from voicecall_rt.simulator.twilio.carrier import FakeTwilio

__all__ = [
    "API_TOKEN",
    "CALLEE",
    "CALLS",
    "OUR_NUMBER",
    "PROJECT_ID",
    "PUBLIC",
    "SIGNING_KEY",
    "dial",
    "make_fake",
    "rest",
    "signed_with",
    "stream_cxml",
]

ACCOUNT_PATH = f"/api/laml/2010-04-01/Accounts/{PROJECT_ID}"
CALLS = f"{ACCOUNT_PATH}/Calls.json"
TIMEOUT = 5.0


def stream_cxml(url: str = "wss://voice.demo.test/voice/stream", codec: str | None = None) -> str:
    codec_attribute = f' codec="{codec}"' if codec is not None else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Connect>'
        f'<Stream url="{url}"{codec_attribute}>'
        '<Parameter name="call_token" value="tok-123"/></Stream></Connect></Response>'
    )


def make_fake(server: OurServer, plans: CallPlan | None = None, **knobs: Any) -> FakeTwilio:
    return fake_signalwire(
        plans=plans if plans is not None else CallPlan(ring_ms=20),
        owned_numbers=(OUR_NUMBER,),
        tunnel=server.tunnel,
        **knobs,
    )


async def rest(
    http: aiohttp.ClientSession,
    fake: FakeTwilio,
    method: str,
    path: str,
    data: list[tuple[str, str]] | None = None,
    auth: tuple[str, str] = (PROJECT_ID, API_TOKEN),
) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": aiohttp.encode_basic_auth(*auth)}
    async with http.request(
        method, fake.api_base_url + path, data=data, headers=headers
    ) as response:
        return response.status, await response.json()


async def dial(http: aiohttp.ClientSession, fake: FakeTwilio, **extra: str) -> SimCall:
    status, body = await rest(http, fake, "POST", CALLS, create_form(**extra))
    assert status == 201, body
    call = await fake.wait_call(TIMEOUT)
    assert call.sid == body["sid"]
    return call


def signed_with(key: str, hook: SentWebhook) -> bool:
    """Whether `hook`'s signature is Twilio's algorithm keyed with `key`."""
    return bool(RequestValidator(key).validate(hook.url, hook.params, hook.signature))
