"""The carrier's webhooks: every POST is signed over the public URL, or it is refused with 403.

The carrier's own `CarrierWebhooks` checks the signature, reads the request as a neutral
event and carries out the call manager's decision; this module only carries them over HTTP
and hands each event to the manager.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web
from multidict import MultiDict, MultiDictProxy

from voicecall_rt.call.transfer import transfer_document
from voicecall_rt.carrier.base import (
    HEALTH_HEADER,
    CallAnswered,
    InboundCall,
    MachineVerdict,
    Reply,
    StatusChanged,
    TransferLegEnded,
    WebhookKind,
    WebhookRequest,
)
from voicecall_rt.web.keys import MANAGER, SETTINGS, STORE, WEBHOOKS

FORM = "application/x-www-form-urlencoded"


def _signed_origin(request: web.Request) -> str | None:
    """The origin the carrier called, which its signature covers: the shared inbound
    origin when the request came through it (`inboundUrl`), else this instance's own."""
    settings = request.app[SETTINGS]
    shared = settings.inbound_url
    if shared is not None:
        host = request.headers.get("X-Forwarded-Host") or request.host
        if host.lower() == (urlsplit(shared).netloc or "").lower():
            return shared
    return settings.public_url


async def _verified(request: web.Request) -> WebhookRequest:
    """The webhook, if the carrier signed it; 403 otherwise (before anything else happens)."""
    body = await request.read()  # the body cap (64 KiB) answers 413 here
    form: MultiDictProxy[str] = MultiDictProxy(MultiDict())
    if request.content_type == FORM:
        posted = await request.post()  # parsed from the body read above
        form = MultiDictProxy(MultiDict((k, v) for k, v in posted.items() if isinstance(v, str)))
    webhook = WebhookRequest(
        url=f"{_signed_origin(request)}{request.raw_path}",
        headers=request.headers,
        form=form,
        query=request.query,
        method=request.method,
        body=body,
    )
    if not request.app[WEBHOOKS].verify(webhook):
        raise web.HTTPForbidden(text="invalid signature")
    return webhook


def _response(reply: Reply) -> web.Response:
    return web.Response(text=reply.body, content_type=reply.content_type, status=reply.status)


async def answer_health(request: web.Request) -> web.Response:
    """GET: what `status` fetches through the tunnel to prove the path reaches us."""
    response = _response(request.app[WEBHOOKS].health())
    response.headers[HEALTH_HEADER] = "ok"
    return response


async def _handle(request: web.Request, kind: WebhookKind) -> web.Response:
    webhook = await _verified(request)
    webhooks, manager = request.app[WEBHOOKS], request.app[MANAGER]
    event = webhooks.read(kind, webhook)
    call_id = request.query.get("call")
    match event:
        case InboundCall():
            decision = await manager.answer_inbound(event)
            return _response(await webhooks.respond(event, decision))
        case CallAnswered():
            decision = manager.answer_outbound(call_id or "", event)
            return _response(await webhooks.respond(event, decision))
        case StatusChanged():
            await manager.on_status(call_id, event)
        case MachineVerdict():
            await manager.on_amd(call_id, event)
        case TransferLegEnded():
            await manager.on_transfer_leg_ended(event)
    return web.Response(status=204)


async def answer(request: web.Request) -> web.Response:
    return await _handle(request, WebhookKind.ANSWER)


async def status(request: web.Request) -> web.Response:
    return await _handle(request, WebhookKind.STATUS)


async def amd(request: web.Request) -> web.Response:
    return await _handle(request, WebhookKind.AMD)


async def transfer(request: web.Request) -> web.Response:
    """The document a carrier fetches to carry out a transfer (Plivo's `aleg_url`): signed
    like every webhook, it dials the configured target the URL names by label."""
    webhook = await _verified(request)
    webhooks = request.app[WEBHOOKS]
    event = webhooks.read(WebhookKind.ANSWER, webhook)
    if not isinstance(event, CallAnswered | InboundCall):
        return web.Response(status=204)
    decision = await transfer_document(
        request.app[STORE],
        request.app[SETTINGS],
        request.query.get("call", ""),
        request.query.get("target", ""),
        event.call_sid,
    )
    return _response(await webhooks.respond(event, decision))
