"""The dashboard in a real browser (Playwright driving Debian's Chromium, see
tests/helpers/browser.py) against a live simulated world: signing in, a live call followed
and shown, hanging up, logging out; model shutdown banners and a fatal model error. The same
rules over plain HTTP are in test_dashboard_http.py.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.browser import ARTIFACTS, chromium
from tests.helpers.world import MakeWorld
from voicecall_rt.call.records import CallRecord, CallStatus
from voicecall_rt.simulator.scenario import CallPlan, ModelScript
from voicecall_rt.simulator.scenarios import pizza_booking
from voicecall_rt.simulator.world import SimWorld
from voicecall_rt.web import api, session

COOKIE = session.COOKIE_NAME


@pytest.fixture
async def browser(make_world: MakeWorld, tmp_path: Path) -> AsyncIterator[Any]:
    """A fresh Chromium profile; closed before the worlds are checked for leftover tasks."""
    async with chromium(tmp_path / "chromium-profile") as context:
        yield context


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
