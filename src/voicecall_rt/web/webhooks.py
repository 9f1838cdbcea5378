"""Twilio's webhooks: every POST is signed over the public URL, or it is refused with 403."""

from __future__ import annotations

import logging

from aiohttp import web
from multidict import MultiDict, MultiDictProxy
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    get_signature_algorithm,
)

from voicecall_rt.carrier.twilio.webhooks import HEALTH_HEADER, signature_key_id, signature_valid
from voicecall_rt.config import Settings
from voicecall_rt.web.keys import MANAGER, SETTINGS

log = logging.getLogger(__name__)
TWIML = "text/xml"


def shared_key_secrets(settings: Settings) -> list[str]:
    """The SharedKey secrets webhooks may be signed with (`twilio.webhookSharedKeys`)."""
    return [key.get_secret_value() for key in settings.twilio.webhook_shared_keys]


async def _signed_form(request: web.Request) -> MultiDictProxy[str]:
    """The form, if Twilio signed it; 403 otherwise (before anything else happens)."""
    settings = request.app[SETTINGS]
    form = await request.post()  # the body cap (64 KiB) answers 413 here
    token = settings.twilio.auth_token
    url = f"{settings.public_url}{request.raw_path}"
    params = MultiDictProxy(MultiDict((k, v) for k, v in form.items() if isinstance(v, str)))
    signature_settings = request.headers.get(SIGNATURE_SETTINGS_HEADER)
    if not signature_valid(
        token.get_secret_value() if token is not None else "",
        url,
        params,
        request.headers.get(SIGNATURE_HEADER),
        signature_settings=signature_settings,
        shared_key_secrets=shared_key_secrets(settings),
    ):
        if signature_settings:
            # Which key and algorithm were announced (ids, not secrets) says what to configure;
            # the header comes from whoever sent the request, hence repr and a length cap.
            log.warning(
                "refused %s %s: missing or invalid Twilio signature "
                "(SharedKey %r, %r; %d SharedKey secret(s) configured)",
                request.method,
                request.path,
                (signature_key_id(signature_settings) or "")[:64],
                get_signature_algorithm(signature_settings)[:32],
                len(shared_key_secrets(settings)),
            )
        else:
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
