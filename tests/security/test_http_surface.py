"""What the server refuses over HTTP whoever signs: a body over the size cap, unknown routes
and wrong methods, and the local API without its token."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET

import aiohttp

from tests.helpers import carrier_inputs
from tests.helpers.carrier_inputs import INPUTS
from tests.helpers.twilio_wire import answer_inbound, call_id_for, new_call_sid, sign
from tests.helpers.webhook_target import GREET_ONLY, LISTEN_PLAN, OPEN
from tests.helpers.world import MakeWorld
from voicecall_rt.simulator.world import PUBLIC_URL


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
