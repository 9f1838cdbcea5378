"""The fake SignalWire's test bench: the fake Twilio's app playing our server
(tests/helpers/fake_twilio_harness.py) with the fake in SignalWire's dialect, its REST
paths and credentials, and the cXML our server would answer with."""

from __future__ import annotations

from typing import Any

import aiohttp
from twilio.request_validator import RequestValidator

from tests.helpers import fake_twilio_harness as harness
from tests.helpers.fake_twilio_harness import CALLEE, OUR_NUMBER, PUBLIC, OurServer
from voicecall_rt.carrier.signalwire.wire import SignalWireStreamWriter
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
    "ACCOUNT_PATH",
    "API_TOKEN",
    "CALLEE",
    "CALLS",
    "CREDENTIALS",
    "OUR_NUMBER",
    "PROJECT_ID",
    "PUBLIC",
    "SIGNING_KEY",
    "dial",
    "hang_up",
    "make_fake",
    "refused_call",
    "signed_with",
    "stream_cxml",
    "streamed_call",
]

ACCOUNT_PATH = f"/api/laml/2010-04-01/Accounts/{PROJECT_ID}"
CALLS = f"{ACCOUNT_PATH}/Calls.json"
CREDENTIALS = (PROJECT_ID, API_TOKEN)


def stream_cxml(url: str = "wss://voice.demo.test/voice/stream", codec: str | None = None) -> str:
    codec_attribute = f' codec="{codec}"' if codec is not None else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Connect>'
        f'<Stream url="{url}"{codec_attribute}>'
        '<Parameter name="call_token" value="tok-123"/></Stream></Connect></Response>'
    )


def make_fake(server: OurServer, plans: CallPlan | None = None, **knobs: Any) -> FakeTwilio:
    server.writer_type = SignalWireStreamWriter  # our server writes SignalWire's stream ids
    return fake_signalwire(
        plans=plans if plans is not None else CallPlan(ring_ms=20),
        owned_numbers=(OUR_NUMBER,),
        tunnel=server.tunnel,
        **knobs,
    )


async def dial(http: aiohttp.ClientSession, fake: FakeTwilio, **extra: str) -> SimCall:
    return await harness.dial(http, fake, path=CALLS, auth=CREDENTIALS, **extra)


async def hang_up(http: aiohttp.ClientSession, fake: FakeTwilio, call: SimCall) -> None:
    await harness.hang_up_via_rest(http, fake, call, calls=CALLS, auth=CREDENTIALS)


async def streamed_call(
    server: OurServer, http: aiohttp.ClientSession, cxml: str
) -> tuple[FakeTwilio, SimCall]:
    """A call answered with `cxml`, hung up over REST once its stream started."""
    server.twiml = lambda _params: cxml
    async with make_fake(server) as fake:
        call = await dial(http, fake)
        await server.wait_started()
        await hang_up(http, fake, call)
    return fake, call


async def refused_call(server: OurServer, http: aiohttp.ClientSession, cxml: str) -> SimCall:
    """A call answered with `cxml` whose stream the carrier refuses: it ends by itself."""
    server.twiml = lambda _params: cxml
    async with make_fake(server) as fake:
        call = await dial(http, fake)
        await call.wait_for(lambda: call.ended.is_set())
    return call


def signed_with(key: str, hook: SentWebhook) -> bool:
    """Whether `hook`'s signature is Twilio's algorithm keyed with `key`."""
    return bool(RequestValidator(key).validate(hook.url, hook.params, hook.signature))
