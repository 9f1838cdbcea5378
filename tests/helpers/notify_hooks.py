"""Shared by the notify webhook's tests: the settings that point a world at a receiver,
the call's notify events, and a plain signed-JSON receiver for the `generic` format (the
OpenClaw gateway's fake is voicecall_rt.simulator.openclaw_gateway)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from voicecall_rt.simulator.scenario import CallPlan, ModelScript

if TYPE_CHECKING:
    from tests.helpers.world import MakeWorld
    from voicecall_rt.call.records import CallEvent
    from voicecall_rt.simulator.openclaw_gateway import FakeGateway
    from voicecall_rt.simulator.world import SimWorld

TOKEN = "hook-token-for-tests-0123456789"  # the receivers' own
NOTIFY_KINDS = {"notify.attempt", "notify.delivered", "notify.failed"}
BUSY = CallPlan(answer="busy", ring_ms=100)
QUESTION = "Ask whether they are open on Sunday."


def gateway_settings(gateway: FakeGateway, **notify: Any) -> dict[str, Any]:
    """World settings delivering to the fake gateway's agent hook (`notify.<key>` extras)."""
    settings = {"notify.url": gateway.agent_url, "notify.token": TOKEN}
    settings.update({f"notify.{key}": value for key, value in notify.items()})
    return settings


async def busy_call(
    make_world: MakeWorld, gateway: FakeGateway, **notify: Any
) -> tuple[SimWorld, str]:
    """A world delivering to `gateway`, and a call in it that has ended busy (its result
    is then on its way)."""
    world = await make_world(BUSY, ModelScript(), **gateway_settings(gateway, **notify))
    call_id = await world.place("+14155550123", QUESTION)
    await world.wait_call(call_id)
    return world, call_id


async def never_delivered(
    make_world: MakeWorld, gateway: FakeGateway, **notify: Any
) -> tuple[list[int], list[CallEvent]]:
    """A busy call's result given up on: what `gateway` (entered here) answered, and the
    call's notify events."""
    async with gateway:
        world, call_id = await busy_call(make_world, gateway, **notify)
        assert await delivery_verdict(world, call_id) is False
    return [request.status for request in gateway.requests], await notify_events(world, call_id)


async def notify_events(world: SimWorld, call_id: str) -> list[CallEvent]:
    """The call's notify events; the token is never among them."""
    events = await world.server.store.events(call_id, kinds=NOTIFY_KINDS)
    assert TOKEN not in orjson.dumps([e.model_dump() for e in events]).decode()
    return events


async def delivery_verdict(world: SimWorld, call_id: str) -> bool:
    notifier = world.server.notifier
    assert notifier is not None
    return await notifier.wait_delivery(call_id)


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class SignedReceiver:
    """Any webhook consumer of the `generic` format: records each POST and answers 200
    (it checks nothing: the tests verify the signature themselves)."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(Received(dict(request.headers), await request.read()))
        return web.json_response({"ok": True})


@contextlib.asynccontextmanager
async def signed_receiver() -> AsyncIterator[SignedReceiver]:
    rx = SignedReceiver()
    app = web.Application()
    app.router.add_post("/results", rx.handle)
    runner = web.AppRunner(app, shutdown_timeout=5.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    rx.url = f"http://127.0.0.1:{runner.addresses[0][1]}/results"
    try:
        yield rx
    finally:
        await runner.cleanup()
