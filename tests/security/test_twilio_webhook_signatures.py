"""Twilio's webhook signatures: every forgery of `X-Twilio-Signature` (and of the SharedKey
scheme's HMAC-SHA256) is refused on every webhook URL and changes nothing, while the same
requests properly signed take effect; validly signed callbacks for an unknown or settled
call are harmless."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
from twilio.request_validator import (
    HMAC_SHA1,
    HMAC_SHA256,
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
)

from tests.helpers.twilio_wire import (
    answer_inbound,
    call_id_for,
    inbound_params,
    new_call_sid,
    post,
    post_signed,
    sign,
)
from tests.helpers.webhook_target import GREET_ONLY, LISTEN_PLAN, OPEN, one_call
from tests.helpers.world import MakeWorld
from voicecall_rt.simulator.signing import SharedKey, signature_headers
from voicecall_rt.simulator.twilio.fake import ACCOUNT_SID, AUTH_TOKEN
from voicecall_rt.simulator.world import FROM_NUMBER, PUBLIC_URL, SimWorld


def _status_params(call_sid: str, status: str) -> dict[str, str]:
    return {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "CallSid": call_sid,
        "CallStatus": status,
        "Direction": "inbound",
        "From": "+14155550177",
        "To": FROM_NUMBER,
        "CallbackSource": "call-progress-events",
        "SequenceNumber": "3",
    }


def _amd_params(call_sid: str) -> dict[str, str]:
    return {
        "AccountSid": ACCOUNT_SID,
        "AnsweredBy": "machine_end_beep",
        "CallSid": call_sid,
        "MachineDetectionDuration": "1800",
    }


def _bad_signature(variant: str, world: SimWorld, path: str, params: dict[str, str]) -> Any:
    """(signature header or None, params actually sent) for one kind of forgery."""
    if variant == "missing":
        return None, params
    if variant == "empty":
        return "", params
    if variant == "wrong-token":
        return sign(PUBLIC_URL + path, params, token="not-the-auth-token"), params
    if variant == "local-url":  # signed over where it was delivered, not the public URL
        return sign(world.server.local_url + path, params), params
    if variant == "http-scheme":
        return sign(PUBLIC_URL.replace("https://", "http://") + path, params), params
    if variant == "other-path":  # a valid signature lifted from another endpoint
        other = "/voice/status" if path.startswith("/voice/answer") else "/voice/answer"
        return sign(PUBLIC_URL + other, params), params
    if variant == "other-query":  # signed with another query string than the one requested
        bare, _, query = path.partition("?")
        signed = bare if query else bare + "?call=call_0123456789abcdef"
        return sign(PUBLIC_URL + signed, params), params
    if variant == "tampered":  # signed, then one parameter changed in flight
        forged = dict(params)
        forged["CallSid"] = "CA" + "0" * 32
        return sign(PUBLIC_URL + path, params), forged
    raise AssertionError(variant)


VARIANTS = [
    "missing",
    "empty",
    "wrong-token",
    "local-url",
    "http-scheme",
    "other-path",
    "other-query",
    "tampered",
]


@pytest.mark.parametrize("variant", VARIANTS)
async def test_unsigned_webhooks_are_refused_and_change_nothing(
    make_world: MakeWorld, http: aiohttp.ClientSession, variant: str
) -> None:
    world = await make_world(LISTEN_PLAN, GREET_ONLY, **OPEN)
    live_sid = new_call_sid()
    await answer_inbound(http, world, live_sid)  # a live call to try to disturb
    call_id = await call_id_for(world, live_sid)
    before = await one_call(world)
    assert before["status"] == "in-progress" and before["answered_by"] is None

    attempts = [
        ("/voice/answer", inbound_params(new_call_sid(), "+14155550123")),  # a new inbound call
        (
            f"/voice/answer?call={call_id}",
            {**inbound_params(live_sid), "Direction": "outbound-api"},
        ),
        (f"/voice/status?call={call_id}", _status_params(live_sid, "completed")),
        (f"/voice/amd?call={call_id}", _amd_params(live_sid)),
    ]
    for path, params in attempts:
        signature, sent = _bad_signature(variant, world, path, params)
        status, body = await post(http, world, path, sent, signature)
        assert status == 403, (path, status, body)
        assert "<Response" not in body  # no TwiML, no token

    # Nothing happened: no new call, no status or AMD change, no new model session.
    assert await one_call(world) == before
    assert world.server.manager.active_ids() == [call_id]
    assert len(world.model.sessions) == 1
    _, data = await world.api("GET", f"/api/calls/{call_id}")
    kinds = [e["kind"] for e in data["events"]]
    assert "status" not in kinds and "amd" not in kinds and "end" not in kinds

    # Positive controls: the same requests, properly signed, do take effect.
    status, _ = await post_signed(http, world, f"/voice/amd?call={call_id}", _amd_params(live_sid))
    assert status == 204
    assert (await one_call(world))["answered_by"] == "machine_end_beep"
    completed = _status_params(live_sid, "completed")
    status, _ = await post_signed(http, world, f"/voice/status?call={call_id}", completed)
    assert status == 204
    data = await world.wait_call(call_id)
    assert data["call"]["status"] == "completed"
    assert world.server.manager.active_count == 0


SHARED = SharedKey("webhook-shared-key-secret-abcdef", key_id="webhooks_sharedkey_sec0001")
SETTINGS = f"key={SHARED.key_id},algorithm=HMAC_SHA256"


def _sha256_forgery(variant: str, path: str, params: dict[str, str]) -> Any:
    """(headers, params actually sent) for one kind of forgery under the SharedKey scheme."""
    url = PUBLIC_URL + path

    def signed(secret: str, algorithm: str, settings: str | None = SETTINGS) -> dict[str, str]:
        signature = RequestValidator(secret).compute_signature(url, params, algorithm=algorithm)
        headers = {SIGNATURE_HEADER: str(signature)}
        if settings is not None:
            headers[SIGNATURE_SETTINGS_HEADER] = settings
        return headers

    if variant == "auth-token-as-key":  # the Auth Token is not the key under this scheme
        return signed(AUTH_TOKEN, HMAC_SHA256), params
    if variant == "sha1-under-sha256-header":
        return signed(SHARED.secret, HMAC_SHA1), params
    if variant == "wrong-secret":
        return signed(SHARED.secret + "x", HMAC_SHA256), params
    if variant == "sha256-without-header":  # read as the Auth Token scheme: SHA-1, token
        return signed(SHARED.secret, HMAC_SHA256, settings=None), params
    if variant == "unsupported-algorithm":
        settings = f"key={SHARED.key_id},algorithm=HMAC_MD5"
        return {**signed(SHARED.secret, HMAC_SHA256), SIGNATURE_SETTINGS_HEADER: settings}, params
    if variant == "header-without-signature":
        return {SIGNATURE_SETTINGS_HEADER: SETTINGS}, params
    if variant == "tampered":
        forged = dict(params)
        forged["CallSid"] = "CA" + "0" * 32
        return signature_headers(url, params, auth_token=AUTH_TOKEN, shared_key=SHARED), forged
    raise AssertionError(variant)


SHA256_VARIANTS = [
    "auth-token-as-key",
    "sha1-under-sha256-header",
    "wrong-secret",
    "sha256-without-header",
    "unsupported-algorithm",
    "header-without-signature",
    "tampered",
]


@pytest.mark.parametrize("variant", SHA256_VARIANTS)
async def test_sha256_forgeries_are_refused_and_both_schemes_work(
    tmp_path: Path, http: aiohttp.ClientSession, variant: str
) -> None:
    async with SimWorld(
        LISTEN_PLAN, GREET_ONLY, tmp_path / "data", settings=OPEN, shared_key=SHARED
    ) as world:
        live_sid = new_call_sid()
        await answer_inbound(http, world, live_sid, shared_key=SHARED)
        call_id = await call_id_for(world, live_sid)
        before = await one_call(world)
        attempts = [
            ("/voice/answer", inbound_params(new_call_sid(), "+14155550123")),
            (f"/voice/status?call={call_id}", _status_params(live_sid, "completed")),
            (f"/voice/amd?call={call_id}", _amd_params(live_sid)),
        ]
        for path, params in attempts:
            headers, sent = _sha256_forgery(variant, path, params)
            status, body = await post(http, world, path, sent, None, headers)
            assert status == 403, (path, status, body)
            assert "<Response" not in body
        assert await one_call(world) == before
        assert world.server.manager.active_ids() == [call_id]

        # Positive controls: SharedKey-signed and Auth-Token-signed requests both count.
        amd = _amd_params(live_sid)
        assert (await post_signed(http, world, f"/voice/amd?call={call_id}", amd, SHARED))[0] == 204
        assert (await one_call(world))["answered_by"] == "machine_end_beep"
        completed = _status_params(live_sid, "completed")
        status, _ = await post_signed(http, world, f"/voice/status?call={call_id}", completed)
        assert status == 204
        assert (await world.wait_call(call_id))["call"]["status"] == "completed"
    for session in world.model.sessions:
        assert session.invalid == [] and session.closed.is_set()


async def test_replayed_or_unknown_status_callbacks_are_harmless(
    make_world: MakeWorld, http: aiohttp.ClientSession
) -> None:
    world = await make_world(LISTEN_PLAN, GREET_ONLY, **OPEN)
    # A validly signed callback for a call we never had: accepted, ignored.
    unknown_sid = new_call_sid()
    for path in ("/voice/status", "/voice/status?call=call_0123456789abcdef"):
        status, body = await post_signed(
            http, world, path, _status_params(unknown_sid, "completed")
        )
        assert (status, body) == (204, "")
    status, _ = await post_signed(http, world, "/voice/amd", _amd_params(unknown_sid))
    assert status == 204
    assert (await world.api("GET", "/api/calls"))[1]["calls"] == []
    assert world.model.sessions == []

    # A settled call: replays of its callbacks (final or earlier ones) change nothing.
    live_sid = new_call_sid()
    await answer_inbound(http, world, live_sid)
    call_id = await call_id_for(world, live_sid)
    path = f"/voice/status?call={call_id}"
    assert (await post_signed(http, world, path, _status_params(live_sid, "completed")))[0] == 204
    settled = (await world.wait_call(call_id))["call"]
    assert settled["status"] == "completed"
    for replay in ("completed", "ringing", "in-progress", "failed", "bogus"):
        assert (await post_signed(http, world, path, _status_params(live_sid, replay)))[0] == 204
    assert (await world.wait_call(call_id))["call"] == settled
    assert world.server.manager.active_count == 0
