"""The carrier's webhooks: every POST is signed over the public URL, or it is refused with 403.

The carrier's own `CarrierWebhooks` checks the signature, reads the request as a neutral
event and renders the call manager's decision; this module only carries them over HTTP.
"""

from __future__ import annotations

from aiohttp import web
from multidict import MultiDict, MultiDictProxy

from voicecall_rt.carrier.base import HEALTH_HEADER, HangUp, InboundCall, WebhookRequest
from voicecall_rt.web.keys import MANAGER, SETTINGS, WEBHOOKS


async def _verified(request: web.Request) -> WebhookRequest:
    """The webhook, if the carrier signed it; 403 otherwise (before anything else happens)."""
    form = await request.post()  # the body cap (64 KiB) answers 413 here
    webhook = WebhookRequest(
        url=f"{request.app[SETTINGS].public_url}{request.raw_path}",
        headers=request.headers,
        form=MultiDictProxy(MultiDict((k, v) for k, v in form.items() if isinstance(v, str))),
        query=request.query,
        method=request.method,
    )
    if not request.app[WEBHOOKS].verify(webhook):
        raise web.HTTPForbidden(text="invalid signature")
    return webhook


async def answer_health(request: web.Request) -> web.Response:
    """GET: what `status` fetches through the tunnel to prove the path reaches us."""
    webhooks = request.app[WEBHOOKS]
    return web.Response(
        text=webhooks.render(HangUp()),
        content_type=webhooks.content_type,
        headers={HEALTH_HEADER: "ok"},
    )


async def answer(request: web.Request) -> web.Response:
    webhook = await _verified(request)
    webhooks, manager = request.app[WEBHOOKS], request.app[MANAGER]
    event = webhooks.answer_event(webhook)
    if isinstance(event, InboundCall):
        decision = manager.answer_inbound(event)
    else:
        decision = manager.answer_outbound(request.query.get("call", ""), event)
    return web.Response(text=webhooks.render(decision), content_type=webhooks.content_type)


async def status(request: web.Request) -> web.Response:
    webhook = await _verified(request)
    event = request.app[WEBHOOKS].status_event(webhook)
    await request.app[MANAGER].on_status(request.query.get("call"), event)
    return web.Response(status=204)


async def amd(request: web.Request) -> web.Response:
    webhook = await _verified(request)
    verdict = request.app[WEBHOOKS].machine_event(webhook)
    await request.app[MANAGER].on_amd(request.query.get("call"), verdict)
    return web.Response(status=204)
