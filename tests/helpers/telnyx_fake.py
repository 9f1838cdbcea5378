"""The fake Telnyx on its own, for REST and webhook tests: started, with a local receiver
standing in for our server (it records every webhook, verified, and answers 200)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from voicecall_rt.carrier.base import WebhookRequest
from voicecall_rt.carrier.telnyx.rest import TelnyxCarrier
from voicecall_rt.carrier.telnyx.webhooks import TelnyxWebhooks
from voicecall_rt.simulator.scenario import CallPlan
from voicecall_rt.simulator.telnyx.carrier import FakeTelnyx
from voicecall_rt.simulator.telnyx.fake import API_KEY, CONNECTION_ID
from voicecall_rt.simulator.telnyx.webhooks import public_key_b64

PUBLIC = "https://hooks.telnyx-test.example"
OUR_NUMBER = "+14155550100"


@dataclass
class Receiver:
    """Our server's stand-in: each webhook's event type and payload, once verified."""

    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    refused: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        hook = WebhookRequest(url=str(request.url), headers=request.headers, form={}, body=body)
        if not TelnyxWebhooks(public_key_b64(), None).verify(hook):
            self.refused += 1
            return web.Response(status=403)
        data = orjson.loads(body)["data"]
        self.events.append((data["event_type"], data["payload"]))
        return web.Response(status=200)

    def types(self) -> list[str]:
        return [event for event, _ in self.events]


@asynccontextmanager
async def local_server(app: web.Application) -> AsyncIterator[str]:
    """`app` served on loopback for the block; yields its base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def fake_telnyx(
    plan: CallPlan | None = None, **knobs: Any
) -> AsyncIterator[tuple[FakeTelnyx, TelnyxCarrier, Receiver]]:
    """The fake (its webhooks to `PUBLIC/voice/...`, delivered to the receiver), and our
    REST client pointed at it."""
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/{tail:.*}", receiver.handle)
    async with local_server(app) as base:
        fake = FakeTelnyx(
            api_key=API_KEY,
            connection_id=CONNECTION_ID,
            tunnel={PUBLIC: base},
            plans=plan or CallPlan(),
            owned_numbers=(OUR_NUMBER,),
            connection_webhook_url=f"{PUBLIC}/voice/answer",
            **knobs,
        )
        await fake.start()
        api = TelnyxCarrier(API_KEY, CONNECTION_ID, fake.api_base_url)
        try:
            yield fake, api, receiver
        finally:
            await api.close()
            await fake.close()
