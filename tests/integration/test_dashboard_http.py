"""The dashboard's rules over plain HTTP: login, the session cookie, CSRF, security headers,
static files and recordings; the session values themselves; and the models status its
banners are drawn from.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import wave
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import make_mocked_request

from tests.helpers.world import MakeWorld
from tests.helpers.world_carrier import twilio_of
from voicecall_rt.private_files import write_private
from voicecall_rt.simulator.scenario import CallPlan, ModelScript
from voicecall_rt.simulator.scenarios import pizza_booking
from voicecall_rt.simulator.world import SimWorld
from voicecall_rt.web import api, session
from voicecall_rt.web.dashboard import ASSETS

COOKIE = session.COOKIE_NAME


def _write_wav(path: Path, channels: int, seconds: float) -> None:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * channels * int(8000 * seconds))
    write_private(path, buffer.getvalue())


async def _login(http: aiohttp.ClientSession, world: SimWorld, token: str) -> Any:
    async with http.post(
        world.server.local_url + "/login", data={"token": token}, allow_redirects=False
    ) as response:
        return response


async def test_login_cookie_csrf_headers_and_recordings(make_world: MakeWorld) -> None:
    scenario = pizza_booking(0.3)
    world = await make_world(scenario.carrier, scenario.model)
    base = world.server.local_url
    token = world.server.api_token
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        async with http.get(base + "/", allow_redirects=False) as response:
            assert response.status == 303 and response.headers["Location"] == "/login"
        async with http.get(base + "/login") as response:
            assert response.status == 200 and response.content_type == "text/html"
            csp = response.headers["Content-Security-Policy"]
            assert "default-src 'none'" in csp and "script-src 'self'" in csp
            assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert response.headers["X-Frame-Options"] == "DENY"
            assert "<script>" not in await response.text()  # no inline script: CSP holds
        # Every script the pages load is shipped and served, and nothing shipped goes unused.
        pages = "".join((ASSETS / page).read_text() for page in ("index.html", "login.html"))
        scripts = set(re.findall(r'<script src="/static/([^"]+)"', pages))
        assert scripts == {path.name for path in ASSETS.glob("*.js")}
        kinds = [(name, "text/javascript") for name in sorted(scripts)]
        for name, kind in [*kinds, ("style.css", "text/css")]:
            async with http.get(f"{base}/static/{name}") as response:
                assert response.status == 200 and response.content_type == kind
                assert response.headers["X-Content-Type-Options"] == "nosniff"
        for path in ("/static/../api-token", "/static/index.html", "/static/nope.js"):
            async with http.get(base + path) as response:
                assert response.status == 404, path
        # The carrier's routes are not for browsers: left as they were.
        async with http.get(base + "/voice/answer") as response:
            assert "Content-Security-Policy" not in response.headers

        for wrong in ("", "nope", token[:-1], token + "x", " " * 3):
            response = await _login(http, world, wrong)
            assert response.status == 303 and response.headers["Location"] == "/login?error=1"
            assert "Set-Cookie" not in response.headers
        response = await _login(http, world, token)
        assert response.status == 303 and response.headers["Location"] == "/"
        set_cookie = response.headers["Set-Cookie"]
        attributes = {part.strip().split("=")[0].lower() for part in set_cookie.split(";")}
        assert {"httponly", "samesite", "path", "max-age"} <= attributes
        assert "samesite=strict" in set_cookie.lower() and "secure" not in attributes
        value = response.cookies[COOKIE].value
        assert token not in value
        cookie = {"Cookie": f"{COOKIE}={value}"}

        async with http.get(base + "/", headers=cookie) as response:
            assert response.status == 200
            assert response.headers["Cache-Control"] == "no-store"
        async with http.get(base + "/login", headers=cookie, allow_redirects=False) as response:
            assert response.status == 303 and response.headers["Location"] == "/"
        async with http.get(base + "/api/calls", headers=cookie) as response:
            assert response.status == 200 and (await response.json()) == {"calls": []}
            assert response.headers["X-Content-Type-Options"] == "nosniff"
        # The cookie counts only on its own: a wrong Authorization header still fails.
        wrong_bearer = {**cookie, "Authorization": "Bearer nope"}
        async with http.get(base + "/api/calls", headers=wrong_bearer) as response:
            assert response.status == 401
        # Forged, tampered, expired cookies and the raw token as a cookie: 401.
        expired = session.issue(token, now=1_000_000)
        for bad in (value[:-1] + ("0" if value[-1] != "0" else "1"), expired, token, ""):
            async with http.get(base + "/api/calls", headers={"Cookie": f"{COOKIE}={bad}"}) as r:
                assert r.status == 401

        # CSRF: with the cookie, a state change must be JSON from our own origin.
        place = base + "/api/calls"
        form = {**cookie, "Content-Type": "application/x-www-form-urlencoded"}
        async with http.post(place, data=b"to=%2B14155550123&task=x", headers=form) as r:
            assert r.status == 403 and (await r.json())["error"]["code"] == "forbidden"
        plain = {**cookie, "Content-Type": "text/plain"}
        async with http.post(place, data=b'{"to": "+14155550123"}', headers=plain) as r:
            assert r.status == 403
        json_headers = {**cookie, "Content-Type": "application/json"}
        evil = {**json_headers, "Origin": "http://127.0.0.1:1"}
        async with http.post(place, data=b'{"to": "+14155550123"}', headers=evil) as r:
            assert r.status == 403
        own = {**json_headers, "Origin": base}
        # Past the auth check: the request itself is judged (an invalid number here).
        async with http.post(place, data=b'{"to": "12", "task": "x"}', headers=own) as r:
            assert r.status == 400
        assert twilio_of(world).created == []

        # Recordings: only the known names, from the call's own directory.
        call_id = "call_00112233445566ff"
        directory = world.server.settings.data_dir / "recordings" / call_id
        _write_wav(directory / "call.wav", 2, 0.25)
        _write_wav(directory / "model.wav", 1, 0.25)
        write_private(world.server.settings.data_dir / "recordings" / "secret.wav", b"x")
        (directory / "caller.wav").symlink_to(world.server.settings.data_dir / "api-token")
        listing = f"{base}/api/calls/{call_id}/recordings"
        async with http.get(listing) as response:
            assert response.status == 401
        async with http.get(listing + "/call.wav") as response:
            assert response.status == 401
        bearer = {"Authorization": f"Bearer {token}"}
        async with http.get(listing, headers=bearer) as response:
            names = [r["name"] for r in (await response.json())["recordings"]]
            assert names == ["call.wav", "model.wav"]  # the planted link is not listed
        async with http.get(listing + "/model.wav", headers=cookie) as response:
            assert response.status == 200 and response.content_type == "audio/wav"
            assert await response.read() == (directory / "model.wav").read_bytes()
        for name in ("caller.wav", "secret.wav", "..%2Fsecret.wav", "call.WAV", "api-token"):
            async with http.get(f"{listing}/{name}", headers=bearer) as response:
                assert response.status == 404, name
                assert token not in await response.text()
        for bad_id in ("..", "call_1%2F..", "call.1"):
            url = f"{base}/api/calls/{bad_id}/recordings/call.wav"
            async with http.get(url, headers=bearer) as response:
                assert response.status == 404, bad_id

        async with http.post(base + "/logout", headers=cookie, allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == "/login"
            cleared = r.headers["Set-Cookie"]
            assert cleared.startswith(f"{COOKIE}=") and "max-age=0" in cleared.lower()


def test_cookie_is_secure_over_https() -> None:
    from aiohttp import web

    request = make_mocked_request("POST", "/login").clone(scheme="https")
    response = web.Response()
    session.set_cookie(response, request, "t" * 43)
    assert response.cookies[COOKIE]["secure"] is True
    plain = make_mocked_request("POST", "/login")
    response = web.Response()
    session.set_cookie(response, plain, "t" * 43)
    assert not response.cookies[COOKIE]["secure"]


def test_session_values() -> None:
    token = "k" * 43
    now = 1_800_000_000
    value = session.issue(token, now=now)
    assert session.valid(token, value, now=now + 60)
    assert not session.valid("j" * 43, value, now=now)
    assert not session.valid(token, value, now=now + session.MAX_AGE_S + 1)
    assert not session.valid(token, value, now=now - 3600)  # issued in the future
    for bad in ("", "v1", "v1..", "v2" + value[2:], value + "0", "v1.-5." + value.split(".")[2]):
        assert not session.valid(token, bad, now=now)


async def test_models_api_reports_configured_models_and_shutdowns(
    make_world: MakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    import jsonschema

    monkeypatch.setattr(api, "today", lambda: dt.date(2027, 1, 20))
    world = await make_world(
        CallPlan(),
        ModelScript(),
        **{
            "openai.model": "gpt-realtime",
            "openai.transcriptionLanguage": "en",
            "openai.reasoningEffort": "medium",
        },
    )
    status, body = await world.api("GET", "/api/models", token="wrong")
    assert status == 401
    status, body = await world.api("GET", "/api/models")
    assert status == 200
    assert body["realtime"] == {
        "model": "gpt-realtime",
        "shutdown_date": "2027-01-20",
        "reasoning": False,
        "reasoning_effort": "medium",
    }
    assert body["transcription"] == {
        "model": "gpt-transcribe",
        "shutdown_date": None,
        "language": "en",
    }
    [notice] = body["notices"]
    assert notice["level"] == "error"  # the day has come
    assert notice["setting"] == "openai.model" and notice["successor"] == "gpt-realtime-2.1"
    assert notice["shutdown_date"] == "2027-01-20" and notice["days_left"] == 0
    assert "shuts down today" in notice["message"]
    status, document = await world.api("GET", "/api/openapi.json")
    assert "/api/models" in document["paths"]
    jsonschema.validate(
        body, {"$ref": "#/components/schemas/ModelsStatus", "components": document["components"]}
    )
