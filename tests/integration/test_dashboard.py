"""The dashboard in a real browser (Playwright driving Debian's Chromium, see
tests/helpers/browser.py) against a live simulated world, plus its login, cookie, CSRF,
headers and recordings over plain HTTP.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import make_mocked_request

from tests.helpers.browser import ARTIFACTS, chromium
from tests.helpers.world import MakeWorld
from voicecall_rt.call.records import CallRecord, CallStatus
from voicecall_rt.private_files import write_private
from voicecall_rt.simulator.scenario import CallPlan, ModelScript
from voicecall_rt.simulator.scenarios import pizza_booking
from voicecall_rt.simulator.world import SimWorld
from voicecall_rt.web import api, session
from voicecall_rt.web.dashboard import ASSETS

COOKIE = session.COOKIE_NAME


@pytest.fixture
async def browser(make_world: MakeWorld, tmp_path: Path) -> AsyncIterator[Any]:
    """A fresh Chromium profile; closed before the worlds are checked for leftover tasks."""
    async with chromium(tmp_path / "chromium-profile") as context:
        yield context


def _write_wav(path: Path, channels: int, seconds: float) -> None:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * channels * int(8000 * seconds))
    write_private(path, buffer.getvalue())


async def test_dashboard_follows_a_live_call_and_shows_it(
    make_world: MakeWorld, browser: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from playwright.async_api import expect

    scenario = pizza_booking(0.3)
    # Debug mode: the call leaves its recordings, which the page offers as players.
    world = await make_world(scenario.carrier, scenario.model, debug=True)
    base = world.server.local_url
    page = browser.pages[0] if browser.pages else await browser.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on(
        "console",
        lambda msg: (
            problems.append(f"console {msg.type}: {msg.text}")
            if msg.type == "error" and "401" not in msg.text
            else None
        ),
    )

    # Not signed in: the page sends us to the login form; the API says 401.
    await page.goto(base + "/")
    assert page.url == base + "/login"
    assert (await page.request.get(base + "/api/calls")).status == 401
    # A wrong token: the error is shown and no cookie is set.
    await page.fill("#token", "not-the-token")
    await page.click("button[type=submit]")
    await expect(page.locator("#login-error")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "dashboard-login.png"))
    assert await browser.cookies() == []
    # The right one: signed in with an HttpOnly, SameSite=Strict cookie.
    await page.fill("#token", world.server.api_token)
    await page.click("button[type=submit]")
    await page.wait_for_url(base + "/")
    await expect(page.locator("#calls-empty")).to_have_text("No calls yet.")
    cookies = await browser.cookies()
    assert [(c["name"], c["httpOnly"], c["sameSite"]) for c in cookies] == [
        (COOKIE, True, "Strict")
    ]
    assert world.server.api_token not in cookies[0]["value"]
    assert await page.evaluate("document.cookie") == ""

    # A call placed now turns up in the open list without a reload.
    await page.evaluate("window.__sameDocument = true")
    # Markup in call content is shown as text, never run (and CSP would block it anyway).
    markup = '<img src="/x" onerror="window.__injected = 1"><b>not bold</b>'
    call_id = await world.place(scenario.to_number, f"{scenario.task} {markup}")
    row = page.locator(f'#calls-body tr[data-call-id="{call_id}"]')
    await expect(row).to_be_visible()
    await expect(row.locator("td.number")).to_have_text(scenario.to_number)

    # Open it while it is in progress and watch it live.
    await row.locator("a").click()
    await expect(page.locator("#call-live")).to_be_visible()
    assert world.server.manager.is_active(call_id)
    lines_at_open = await page.locator("#timeline li.line").count()
    late_line = page.locator("#timeline li.line.assistant", has_text="Wonderful: confirmation")
    await expect(late_line).to_be_visible(timeout=25_000)
    assert await page.locator("#timeline li.line").count() > lines_at_open
    await expect(page.locator("#call-status")).to_have_text("completed", timeout=20_000)
    await expect(page.locator("#call-live")).to_be_hidden()
    assert await page.evaluate("window.__sameDocument") is True, "the page was reloaded"

    settled = await world.wait_call(call_id)
    timeline = page.locator("#timeline")
    await expect(timeline.locator("li.line")).to_have_count(len(settled["transcript"]))
    await expect(timeline).to_contain_text("Reservations, this is Maria")
    cut = timeline.locator("li.line.interrupted")
    await expect(cut).to_have_count(1)
    await expect(cut).to_contain_text("Hi Maria!")
    await expect(cut.locator(".cut")).to_have_text("interrupted")
    await expect(timeline.locator("li.line.keypad")).to_contain_text(["pressed 1"])
    await expect(timeline.locator('li.event[data-kind="barge_in"]')).to_have_count(1)
    # The outcome, with its details.
    await expect(page.locator("#call-facts dd.task")).to_contain_text(markup)
    assert await page.locator("#call-facts img, #call-facts b").count() == 0
    assert await page.evaluate("window.__injected") is None
    await expect(page.locator("#outcome .verdict")).to_have_text("✓ Goal achieved")
    await expect(page.locator('#outcome td[data-key="confirmation"]')).to_have_text("4472")
    # The latency chart: one bar per turn.latency event, with its value.
    latencies = [e["data"]["ms"] for e in settled["events"] if e["kind"] == "turn.latency"]
    assert latencies, "the call should have measured turns"
    bars = page.locator("svg#latency-chart rect.bar")
    await expect(bars).to_have_count(len(latencies))
    assert [int(v) for v in await bars.evaluate_all("bs => bs.map(b => b.dataset.ms)")] == (
        latencies
    )
    # The debug recordings get players, served with the cookie.
    directory = world.server.settings.data_dir / "recordings" / call_id
    players = page.locator("#recordings figure.recording audio")
    await expect(players).to_have_count(3)
    sources = [await player.get_attribute("src") for player in await players.all()]
    names = ["call.wav", "caller.wav", "model.wav"]
    assert sources == [f"/api/calls/{call_id}/recordings/{name}" for name in names]
    for src, name in zip(sources, names, strict=True):
        response = await page.request.get(base + src)
        assert response.status == 200 and response.headers["content-type"] == "audio/wav"
        assert await response.body() == (directory / name).read_bytes()
    # The other latency figures of the call, under the chart.
    await expect(page.locator("#latency dl.steps")).to_contain_text("Answer → media stream")

    await page.screenshot(path=str(ARTIFACTS / "dashboard-call.png"), full_page=True)

    # Back to the list: the finished call, and the filters.
    await page.click("a.back")
    row = page.locator(f'#calls-body tr[data-call-id="{call_id}"]')
    await expect(row.locator(".badge")).to_have_text("completed")
    await expect(row.locator("td.outcome")).to_contain_text("Booked a table")
    await page.screenshot(path=str(ARTIFACTS / "dashboard-list.png"))
    await page.select_option("#filter-direction", "inbound")
    await expect(row).to_have_count(0)
    await expect(page.locator("#calls-empty")).to_have_text("No calls match these filters.")
    await page.select_option("#filter-direction", "")
    await page.fill("#filter-text", "4472")
    await expect(row).to_have_count(1)
    await page.fill("#filter-text", "")
    await page.select_option("#filter-status", "active")
    await expect(row).to_have_count(0)
    await page.select_option("#filter-status", "completed")
    await expect(row).to_have_count(1)

    await page.select_option("#filter-status", "")

    # Hang up a live call from its page (a cookie-authenticated JSON POST).
    second = await world.place(scenario.to_number, scenario.task)
    await page.locator(f'#calls-body tr[data-call-id="{second}"] a').click()
    await expect(page.locator("#hangup")).to_be_visible()

    async def accept(dialog: Any) -> None:
        await dialog.accept()

    page.once("dialog", accept)
    await page.click("#hangup")
    await expect(page.locator("#call-live")).to_be_hidden()
    assert (await world.wait_call(second, 10))["call"]["end_reason"] == "hangup-requested"
    await expect(page.locator("#hangup")).to_be_hidden()

    # Log out: the cookie is gone and the API is closed again.
    await page.click("form.logout button")
    await page.wait_for_url(base + "/login")
    assert await browser.cookies() == []
    assert (await page.request.get(base + "/api/calls")).status == 401
    assert problems == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


QUOTA = "insufficient_quota: You exceeded your current quota, please check your plan."
# Markup in an error from elsewhere is shown as text, never run.
QUOTA_SHOWN = QUOTA + ' <img src="/x" onerror="window.__injected = 1">'


def _fatal_call(world: SimWorld) -> str:
    """A call the model ended on an account error, as the bridge leaves it in the store."""
    record = CallRecord(
        id="call_fatal0123456789",
        direction="outbound",
        from_number="+14155550100",
        to_number="+14155550123",
        task="Ask about Sunday opening hours.",
        status=CallStatus.COMPLETED,
        answered_at=1_790_000_001_000,
        created_at=1_790_000_000_000,
        ended_at=1_790_000_004_000,
        end_reason="model-fatal",
        error=QUOTA_SHOWN,
    )
    world.server.store.insert_call(record)
    return record.id


async def test_dashboard_shows_model_shutdowns_and_a_fatal_model_error(
    make_world: MakeWorld, browser: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.async_api import expect

    monkeypatch.setattr(api, "today", lambda: dt.date(2026, 11, 24))
    world = await make_world(
        CallPlan(), ModelScript(), **{"openai.transcriptionModel": "gpt-4o-mini-transcribe"}
    )
    call_id = _fatal_call(world)
    await world.server.store.flush()
    base = world.server.local_url
    page = browser.pages[0] if browser.pages else await browser.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    await page.goto(base + "/login")
    await page.fill("#token", world.server.api_token)
    await page.click("button[type=submit]")
    await page.wait_for_url(base + "/")

    # The transcription model has a date: a warning banner with it and the successor.
    banner = page.locator('#model-notices .banner[data-model="gpt-4o-mini-transcribe"]')
    await expect(banner).to_be_visible()
    await expect(banner).to_have_attribute("data-level", "warning")
    await expect(banner).to_contain_text("shuts down on 2027-02-26 (in 94 days)")
    await expect(banner).to_contain_text("'gpt-transcribe'")
    await expect(page.locator("#model-notices .banner")).to_have_count(1)  # the default is fine

    # The list: the call, with the model's end reason.
    row = page.locator(f'#calls-body tr[data-call-id="{call_id}"]')
    await expect(row.locator("td.outcome")).to_have_text("model-fatal")
    # Its page: the error above everything, with what it means, as text.
    await row.locator("a").click()
    box = page.locator("#call-error")
    await expect(box).to_be_visible()
    await expect(box).to_have_attribute("data-reason", "model-fatal")
    await expect(page.locator("#call-error-title")).to_contain_text("OpenAI refused the account")
    await expect(page.locator("#call-error-text")).to_have_text(QUOTA_SHOWN)
    await expect(page.locator("#call-facts")).to_contain_text("insufficient_quota")
    assert await page.locator("#call-error img, #call-facts img").count() == 0
    assert await page.evaluate("window.__injected") is None
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "dashboard-model-error.png"), full_page=True)

    # Past the date: the banner turns to an error.
    monkeypatch.setattr(api, "today", lambda: dt.date(2027, 3, 1))
    await page.goto(base + "/")
    await expect(banner).to_have_attribute("data-level", "error")
    await expect(banner).to_contain_text("was shut down by OpenAI on 2027-02-26")
    assert problems == []


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


# ---- the same rules over plain HTTP ---------------------------------------------------


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
        assert world.carrier.created == []

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
