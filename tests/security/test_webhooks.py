"""Every way in over HTTP: signed webhooks only, size and route limits, the local API's token."""

from __future__ import annotations

import asyncio
import dataclasses
import xml.etree.ElementTree as ET
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

from tests.helpers import carrier_inputs
from tests.helpers.carrier_inputs import INPUTS
from tests.helpers.twilio_wire import (
    answer_inbound,
    call_id_for,
    inbound_params,
    new_call_sid,
    post,
    post_signed,
    sign,
)
from tests.helpers.world import MakeWorld
from voicecall_rt.simulator.scenario import CallPlan, ModelScript, Say, WaitForModel
from voicecall_rt.simulator.signing import SharedKey, signature_headers
from voicecall_rt.simulator.twilio.fake import ACCOUNT_SID, AUTH_TOKEN
from voicecall_rt.simulator.world import FROM_NUMBER, PUBLIC_URL, SimWorld

OPEN = {"inbound.enabled": True, "inbound.policy": "open"}
LISTEN_PLAN = CallPlan(callee=(WaitForModel(quiet_ms=200),))
GREET_ONLY = ModelScript(turns=((Say("Hello, you're through to the assistant.", 300),),))


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


async def _one_call(world: SimWorld) -> dict[str, Any]:
    status, data = await world.api("GET", "/api/calls")
    assert status == 200
    [call] = data["calls"]
    call.pop("duration_s")  # computed from the clock while the call is live
    return dict(call)


@pytest.mark.parametrize("variant", VARIANTS)
async def test_unsigned_webhooks_are_refused_and_change_nothing(
    make_world: MakeWorld, http: aiohttp.ClientSession, variant: str
) -> None:
    world = await make_world(LISTEN_PLAN, GREET_ONLY, **OPEN)
    live_sid = new_call_sid()
    await answer_inbound(http, world, live_sid)  # a live call to try to disturb
    call_id = await call_id_for(world, live_sid)
    before = await _one_call(world)
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
    assert await _one_call(world) == before
    assert world.server.manager.active_ids() == [call_id]
    assert len(world.model.sessions) == 1
    _, data = await world.api("GET", f"/api/calls/{call_id}")
    kinds = [e["kind"] for e in data["events"]]
    assert "status" not in kinds and "amd" not in kinds and "end" not in kinds

    # Positive controls: the same requests, properly signed, do take effect.
    status, _ = await post_signed(http, world, f"/voice/amd?call={call_id}", _amd_params(live_sid))
    assert status == 204
    assert (await _one_call(world))["answered_by"] == "machine_end_beep"
    completed = _status_params(live_sid, "completed")
    status, _ = await post_signed(http, world, f"/voice/status?call={call_id}", completed)
    assert status == 204
    data = await world.wait_call(call_id)
    assert data["call"]["status"] == "completed"
    assert world.server.manager.active_count == 0


@pytest.mark.parametrize("direction", ["inbound", "outbound"])
async def test_forged_webhooks_are_refused_on_every_carrier(
    make_world: MakeWorld, http: aiohttp.ClientSession, carrier: str, direction: str
) -> None:
    """Each carrier's forgeries (unsigned, signed with another key, tampered with, and its
    own: a stale timestamp, a wrong nonce) get 403 on every webhook URL, before any work."""
    inputs = INPUTS[carrier]
    world = await make_world(LISTEN_PLAN, GREET_ONLY, **OPEN)
    live_sid = inputs.new_call_sid()
    await carrier_inputs.answer_inbound(http, world, inputs, live_sid)  # a call to disturb
    call_id = await call_id_for(world, live_sid)
    before = await _one_call(world)
    assert before["status"] == "in-progress" and before["answered_by"] is None
    rest_before = inputs.rest_actions(world.carrier)

    # A new call, and each callback of the live call (on its own URL, `?call=` included).
    hooks = (
        [inputs.inbound(inputs.new_call_sid(), "+14155550123")]
        if direction == "inbound"
        else [
            inputs.answered(live_sid, call_id),
            inputs.completed(live_sid, call_id),
            inputs.verdict(live_sid, call_id, True),
        ]
    )
    tried = 0
    for name, forge in inputs.forgeries.items():
        for hook in hooks:
            headers, sent = forge(hook)
            status, body = await carrier_inputs.post(http, world, sent, headers)
            assert (status, body) == (403, "invalid signature"), (name, hook.path)
            tried += 1
    assert tried == len(inputs.forgeries) * len(hooks) and tried >= 3

    # Nothing happened: no call, no status or verdict, no REST action, no model session.
    assert await _one_call(world) == before
    assert world.server.manager.active_ids() == [call_id]
    assert len(world.model.sessions) == 1
    assert inputs.rest_actions(world.carrier) == rest_before
    _, data = await world.api("GET", f"/api/calls/{call_id}")
    kinds = [e["kind"] for e in data["events"]]
    assert "status" not in kinds and "amd" not in kinds and "end" not in kinds

    # Positive controls: the same requests, signed as the carrier signs, take effect.
    status, _ = await carrier_inputs.post_signed(
        http, world, inputs, inputs.verdict(live_sid, call_id, False)
    )
    assert 200 <= status < 300
    assert (await _one_call(world))["answered_by"] == inputs.verdict_raw[False]
    completed = inputs.completed(live_sid, call_id)
    status, _ = await carrier_inputs.post_signed(http, world, inputs, completed)
    assert 200 <= status < 300
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
        before = await _one_call(world)
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
        assert await _one_call(world) == before
        assert world.server.manager.active_ids() == [call_id]

        # Positive controls: SharedKey-signed and Auth-Token-signed requests both count.
        amd = _amd_params(live_sid)
        assert (await post_signed(http, world, f"/voice/amd?call={call_id}", amd, SHARED))[0] == 204
        assert (await _one_call(world))["answered_by"] == "machine_end_beep"
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


async def test_fake_carrier_with_a_bad_signature_gets_nothing(
    make_world: MakeWorld, carrier: str
) -> None:
    """The fake carrier itself signs with a key that is not the account's: its first
    webhook of an inbound call is refused, and no call, stream or model session follows."""
    world = await make_world(LISTEN_PLAN, GREET_ONLY, **OPEN)
    carrier_inputs.sign_badly(world.carrier)
    call = await world.carrier.place_inbound_call(
        from_number="+14155550177", to_number=FROM_NUMBER, plan=LISTEN_PLAN
    )
    await call.wait_for(lambda: any(w.status is not None for w in call.webhooks))
    assert [(w.kind, w.status) for w in call.webhooks] == [("voice", 403)]
    assert call.twiml == [] and call.stream_url is None and call.stream is None
    assert (await world.api("GET", "/api/calls"))[1]["calls"] == []
    assert world.model.sessions == []
    assert world.server.manager.active_count == 0


async def test_outbound_call_with_forged_callbacks_never_progresses(
    make_world: MakeWorld, carrier: str
) -> None:
    """Every callback of an outbound call is badly signed: the record never moves on them."""
    plan = CallPlan(ring_ms=100, callee=())
    world = await make_world(plan, GREET_ONLY)
    carrier_inputs.sign_badly(world.carrier)
    call_id = await world.place("+14155550123", "Ask whether they are open on Sunday.")
    sim = await world.carrier.wait_call()
    streams_at_dial = INPUTS[carrier].streams_at_dial
    if streams_at_dial:
        # Telnyx: the stream was asked for in the dial, its token in the dial's state; it
        # opens on answer whatever became of the webhooks, and it ends the call when it goes.
        await sim.wait_for(lambda: any(w.status is not None for w in sim.webhooks))
        await sim.hang_up()
    # Twilio, Plivo, SignalWire: the answer URL is refused, so the carrier gives up.
    async with asyncio.timeout(10):
        await sim.ended.wait()
    assert {w.kind for w in sim.webhooks} >= {"status"}
    assert {w.status for w in sim.webhooks} == {403}
    status, data = await world.api("GET", f"/api/calls/{call_id}")
    assert status == 200
    record = data["call"]
    assert record["answered_by"] is None
    assert [e["kind"] for e in data["events"] if e["kind"] in ("status", "amd")] == []
    if not streams_at_dial:
        assert {w.kind for w in sim.webhooks} >= {"status", "voice"}
        assert sim.stream_url is None
        assert data["active"] is True and record["status"] == "queued"
        assert record["answered_at"] is None
        assert [e["kind"] for e in data["events"] if e["kind"] == "answered"] == []


async def test_replays_and_strangers_are_harmless_on_every_carrier(
    make_world: MakeWorld, http: aiohttp.ClientSession, carrier: str
) -> None:
    """Validly signed callbacks for a call we never had, or replayed for a settled call,
    are accepted and change nothing."""
    inputs = INPUTS[carrier]
    world = await make_world(LISTEN_PLAN, GREET_ONLY, **OPEN)
    stranger = inputs.new_call_sid()
    for call_id in ("", "call_0123456789abcdef"):
        for hook in (inputs.completed(stranger, call_id), inputs.verdict(stranger, call_id, True)):
            assert await carrier_inputs.post_signed(http, world, inputs, hook) == (204, "")
    assert (await world.api("GET", "/api/calls"))[1]["calls"] == []
    assert world.model.sessions == []

    live_sid = inputs.new_call_sid()
    await carrier_inputs.answer_inbound(http, world, inputs, live_sid)
    call_id = await call_id_for(world, live_sid)
    completed = inputs.completed(live_sid, call_id)
    assert (await carrier_inputs.post_signed(http, world, inputs, completed))[0] == 204
    settled = await world.wait_call(call_id)
    assert settled["call"]["status"] == "completed"
    for replay in (completed, inputs.verdict(live_sid, call_id, True), completed):
        assert await carrier_inputs.post_signed(http, world, inputs, replay) == (204, "")
    again = await world.wait_call(call_id)
    assert again["call"] == settled["call"] and again["events"] == settled["events"]
    assert world.server.manager.active_count == 0


async def test_a_live_calls_webhooks_twice_take_effect_once_on_every_carrier(
    make_world: MakeWorld, http: aiohttp.ClientSession, carrier: str
) -> None:
    """A carrier may deliver a webhook twice (a retry after a lost answer): the inbound
    answer again gets the same call and the same stream token (whichever answer the carrier
    acts on admits the stream), no second call; the voicemail verdict again records and
    triggers nothing more."""
    inputs = INPUTS[carrier]
    world = await make_world(LISTEN_PLAN, GREET_ONLY, **OPEN)
    live_sid = inputs.new_call_sid()
    first = await carrier_inputs.answer_inbound(http, world, inputs, live_sid)
    again = await carrier_inputs.answer_inbound(http, world, inputs, live_sid)
    call_id = await call_id_for(world, live_sid)
    assert first == again and first.split(".")[0] == call_id
    assert [c["id"] for c in (await world.api("GET", "/api/calls"))[1]["calls"]] == [call_id]
    assert world.server.manager.active_count == 1
    verdict = inputs.verdict(live_sid, call_id, False)
    for _ in range(2):
        assert await carrier_inputs.post_signed(http, world, inputs, verdict) == (204, "")
    events = (await world.api("GET", f"/api/calls/{call_id}"))[1]["events"]
    assert [e["kind"] for e in events].count("amd") == 1


async def test_oversized_webhooks_are_refused_on_every_carrier(
    make_world: MakeWorld, http: aiohttp.ClientSession, carrier: str
) -> None:
    """A webhook over the body cap (64 KiB) gets 413, however well signed, and does nothing."""
    inputs = INPUTS[carrier]
    world = await make_world(LISTEN_PLAN, GREET_ONLY, **OPEN)
    padding = "x" * (65 * 1024)
    for path in ("/voice/answer", "/voice/status", "/voice/amd"):
        hook = inputs.inbound(inputs.new_call_sid(), "+14155550123")
        if hook.params is not None:
            big = dataclasses.replace(hook, path=path, params={**hook.params, "Padding": padding})
        else:
            body = hook.json[:-1] + b',"padding":"' + padding.encode() + b'"}'
            big = dataclasses.replace(hook, path=path, json=body)
        status, _ = await carrier_inputs.post_signed(http, world, inputs, big)
        assert status == 413, path
    assert (await world.api("GET", "/api/calls"))[1]["calls"] == []
    assert world.model.sessions == [] and inputs.rest_actions(world.carrier) == 0


async def test_body_size_routes_and_methods(
    make_world: MakeWorld, http: aiohttp.ClientSession
) -> None:
    world = await make_world(LISTEN_PLAN, GREET_ONLY, **OPEN)
    base = world.server.local_url
    auth = {"Authorization": f"Bearer {world.server.api_token}"}
    big = {"CallSid": new_call_sid(), "Padding": "x" * (65 * 1024)}
    for path in ("/voice/answer", "/voice/status", "/voice/amd"):
        async with http.post(
            base + path, data=big, headers={"X-Twilio-Signature": sign(PUBLIC_URL + path, big)}
        ) as response:
            assert response.status == 413, path
    async with http.post(
        base + "/api/calls", data=b"{" + b" " * (65 * 1024) + b"}", headers=auth
    ) as r:
        assert r.status == 413
    assert world.carrier.calls == {} and world.model.sessions == []

    for method, path in [
        ("GET", "/nope"),  # `/` is the dashboard (tests/integration/test_dashboard.py)
        ("GET", "/voice"),
        ("POST", "/voice/unknown"),
        ("GET", "/voice/answer/extra"),
        ("POST", "/voice/status/"),
    ]:
        async with http.request(method, base + path) as response:
            assert response.status == 404, (method, path)
    async with http.get(base + "/api/nope", headers=auth) as response:
        assert response.status == 404

    for method, path in [
        ("GET", "/voice/status"),
        ("GET", "/voice/amd"),
        ("PUT", "/voice/answer"),
        ("DELETE", "/voice/answer"),
        ("POST", "/voice/realtime-stream"),
    ]:
        async with http.request(method, base + path) as response:
            assert response.status == 405, (method, path)
    async with http.put(base + "/api/calls", headers=auth) as response:
        assert response.status == 405

    async with http.get(base + "/voice/answer") as response:
        assert response.status == 200
        assert response.headers["X-Voicecall-Rt"] == "ok"
        assert response.content_type == "text/xml"
        root = ET.fromstring(await response.text())
        assert root.tag == "Response"
    assert (await world.api("GET", "/api/calls"))[1]["calls"] == []


async def test_local_api_demands_the_token(
    make_world: MakeWorld, http: aiohttp.ClientSession
) -> None:
    world = await make_world(LISTEN_PLAN, GREET_ONLY, **OPEN)
    live_sid = new_call_sid()
    await answer_inbound(http, world, live_sid)
    call_id = await call_id_for(world, live_sid)
    token = world.server.api_token
    assert len(token) >= 32
    routes: list[tuple[str, str, bytes | None]] = [
        ("POST", "/api/calls", b'{"to": "+14155550123", "task": "Say hello."}'),
        ("GET", "/api/calls", None),
        ("GET", "/api/calls?active=1", None),
        ("GET", f"/api/calls/{call_id}", None),
        ("GET", f"/api/calls/{call_id}?wait=0.1", None),
        ("POST", f"/api/calls/{call_id}/hangup", None),
        ("GET", "/api/nope", None),
    ]
    bad_headers: list[dict[str, str]] = [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Bearer {token[:-1]}"},
        {"Authorization": f"Bearer {token}x"},
        {"Authorization": f"Bearer {token.upper() if token.upper() != token else token.lower()}"},
        {"Authorization": f"Basic {token}"},
        {"Authorization": token},
        {"X-Api-Token": token},
    ]
    for headers in bad_headers:
        for method, path, body in routes:
            async with http.request(
                method, world.server.local_url + path, data=body, headers=headers
            ) as response:
                assert response.status == 401, (headers, method, path)
                error = (await response.json())["error"]
                assert error["code"] == "unauthorized"
                assert token not in await response.text()
    # Nothing happened: no call placed, the live call is still up.
    assert world.carrier.calls == {}
    assert world.server.manager.active_ids() == [call_id]

    status, data = await world.api("GET", "/api/calls")
    assert status == 200 and [c["id"] for c in data["calls"]] == [call_id]
    status, data = await world.api("GET", f"/api/calls/{call_id}")
    assert status == 200 and data["active"] is True
    status, data = await world.api("POST", f"/api/calls/{call_id}/hangup")
    assert (status, data) == (200, {"ok": True})
    assert (await world.wait_call(call_id))["call"]["status"] == "completed"
    status, data = await world.api("POST", "/api/calls", {"to": "12", "task": "x"})
    assert status == 400 and data["error"]["code"] == "invalid-number"
