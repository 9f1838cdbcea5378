"""The dashboard's overview in Chromium (tests/helpers/browser.py) over a seeded store
(tests/helpers/overview_calls.py): the figures, the SVG charts (a bar per day, segments per
ending, p50/p95 points), the direction filter changing them, the CSV download honouring the
filters, an empty range and a refused one shown as such, and no request leaving 127.0.0.1."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.browser import ARTIFACTS, chromium
from tests.helpers.overview_calls import seed_calls
from tests.helpers.world import MakeWorld
from voicecall_rt.simulator.scenario import CallPlan, ModelScript


@pytest.fixture
async def browser(make_world: MakeWorld, tmp_path: Path) -> AsyncIterator[Any]:
    async with chromium(tmp_path / "chromium-profile") as context:
        yield context


async def values(locator: Any, name: str) -> list[str]:
    return list(await locator.evaluate_all(f"nodes => nodes.map(n => n.dataset.{name})"))


async def test_overview_shows_how_calls_went(make_world: MakeWorld, browser: Any) -> None:
    from playwright.async_api import expect

    world = await make_world(CallPlan(), ModelScript())
    seed_calls(world.server.store)
    await world.server.store.flush()
    base = world.server.local_url
    page = browser.pages[0] if browser.pages else await browser.new_page()
    requested: list[str] = []
    problems: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on(
        "console",
        lambda msg: problems.append(f"console: {msg.text}") if msg.type == "error" else None,
    )
    # Signed out: no figures.
    assert (await page.request.get(base + "/api/overview")).status == 401
    await page.goto(base + "/login")
    await page.fill("#token", world.server.api_token)
    await page.click("button[type=submit]")
    await page.wait_for_url(base + "/")

    # From the calls page to the overview; the seeded days.
    await page.click("#to-overview")
    await expect(page.locator("#view-overview")).to_be_visible()
    await page.fill("#overview-from", "2026-12-01")
    await page.fill("#overview-to", "2026-12-03")
    calls = page.locator("svg#overview-calls-chart rect.bar")
    await expect(calls).to_have_count(3)
    await expect(page.locator('[data-figure="calls"] .figure')).to_have_text("10")
    assert await values(calls, "value") == ["4", "6", "0"]
    assert await values(calls, "date") == ["2026-12-01", "2026-12-02", "2026-12-03"]
    await expect(page.locator('[data-figure="answered"] .figure')).to_have_text("7")
    success = page.locator('[data-figure="success"]')
    await expect(success.locator(".figure")).to_have_text("33.3%")
    await expect(success).to_contain_text("1 of 3 calls that reported an outcome")
    cost = page.locator("svg#overview-cost-chart rect.bar")
    assert [round(float(v), 4) for v in await values(cost, "value")] == [0.0946, 0.0552, 0.0]
    await expect(page.locator('[data-figure="cost"]')).to_contain_text("1 call(s) with an unpriced")

    # Endings: the drop, the model error and the failure apart from the completed calls.
    first_day = page.locator('svg#overview-endings-chart rect.segment[data-date="2026-12-01"]')
    assert dict(
        zip(await values(first_day, "ending"), await values(first_day, "count"), strict=True)
    ) == {"completed": "3", "carrier-drop": "1"}
    table = page.locator("#endings-table")
    await expect(table.locator('tr[data-ending="completed"] td').nth(1)).to_have_text("4")
    await expect(table.locator('tr[data-ending="carrier-drop"]')).to_contain_text("Carrier drop")
    await expect(table.locator('tr[data-ending="model-error"] td').nth(1)).to_have_text("1")
    await expect(table.locator('tr[data-ending="failed"] td').nth(1)).to_have_text("1")
    await expect(page.locator("#overview-endings .legend li")).to_have_count(7)
    # Turn latency: a point per day with turns, p50 and p95.
    p50 = page.locator("svg#overview-latency-chart circle.point.p50")
    assert await values(p50, "ms") == ["500", "700"]
    p95 = page.locator("svg#overview-latency-chart circle.point.p95")
    assert await values(p95, "ms") == ["1000", "700"]
    await expect(page.locator("svg#overview-latency-chart polyline.p95")).to_have_count(1)
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "dashboard-overview.png"), full_page=True)

    # The direction filter: inbound calls only, and the CSV link follows.
    await page.select_option("#overview-direction", "inbound")
    await expect(page.locator('[data-figure="calls"] .figure')).to_have_text("2")
    assert await values(calls, "value") == ["1", "1", "0"]
    await expect(page.locator("svg#overview-endings-chart rect.segment")).to_have_count(2)
    link = page.locator("#overview-csv")
    await expect(link).to_have_attribute(
        "href", "/api/calls.csv?from=2026-12-01&to=2026-12-03&direction=inbound&tz=UTC"
    )
    async with page.expect_download() as downloading:
        await link.click()
    download = await downloading.value
    assert download.suggested_filename == "calls-2026-12-01-to-2026-12-03-inbound.csv"
    text = await asyncio.to_thread(Path(await download.path()).read_text)
    rows = list(csv.reader(io.StringIO(text)))
    assert [row[0] for row in rows[1:]] == ["call_h", "call_c"]

    # A range with no calls: an empty state, not an error.
    await page.fill("#overview-from", "2027-01-05")
    await page.fill("#overview-to", "2027-01-06")
    await expect(page.locator("#overview-empty")).to_be_visible()
    await expect(page.locator('[data-figure="calls"] .figure')).to_have_text("0")
    await expect(calls).to_have_count(2)
    # A refused range says why.
    await page.fill("#overview-from", "2027-02-01")
    error = page.locator("#overview-error")
    await expect(error).to_be_visible()
    await expect(error).to_contain_text("from: 2027-02-01 is after to (2027-01-06)")

    assert problems == [] or all("400" in p for p in problems), problems
    outside = [url for url in requested if not url.startswith(base + "/")]
    assert outside == [], outside
