"""Twilio's webhooks: every POST is signed over the public URL, or it is refused with 403."""

from __future__ import annotations

import logging

from aiohttp import web
from multidict import MultiDict, MultiDictProxy

from voicecall_rt.carrier.twilio import HEALTH_HEADER, signature_valid
from voicecall_rt.web.keys import MANAGER, SETTINGS

log = logging.getLogger(__name__)
TWIML = "text/xml"


async def _signed_form(request: web.Request) -> MultiDictProxy[str]:
    """The form, if Twilio signed it; 403 otherwise (before anything else happens)."""
    settings = request.app[SETTINGS]
    form = await request.post()  # the body cap (64 KiB) answers 413 here
    token = settings.twilio.auth_token
    url = f"{settings.public_url}{request.raw_path}"
    params = MultiDictProxy(MultiDict((k, v) for k, v in form.items() if isinstance(v, str)))
    if token is None or not signature_valid(
        token.get_secret_value(), url, params, request.headers.get("X-Twilio-Signature")
    ):
        log.warning(
            "refused %s %s: missing or invalid Twilio signature", request.method, request.path
        )
        raise web.HTTPForbidden(text="invalid signature")
    return params


async def answer_health(request: web.Request) -> web.Response:
    """GET: what `status` fetches through the tunnel to prove the path reaches us."""
    return web.Response(
        text='<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>',
        content_type=TWIML,
        headers={HEALTH_HEADER: "ok"},
    )


async def answer(request: web.Request) -> web.Response:
    params = await _signed_form(request)
    manager = request.app[MANAGER]
    if params.get("Direction", "") == "inbound":
        twiml = manager.answer_inbound(params)
    else:
        twiml = manager.answer_outbound(request.query.get("call", ""), params)
    return web.Response(text=twiml, content_type=TWIML)


async def status(request: web.Request) -> web.Response:
    params = await _signed_form(request)
    await request.app[MANAGER].on_status(request.query.get("call"), params)
    return web.Response(status=204)


async def amd(request: web.Request) -> web.Response:
    params = await _signed_form(request)
    await request.app[MANAGER].on_amd(request.query.get("call"), params)
    return web.Response(status=204)
