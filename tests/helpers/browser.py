"""Chromium for the dashboard's tests: Debian's `/usr/bin/chromium` driven by Playwright
(its own browser download is never used). Missing either: skip locally, fail in CI
(VOICECALL_RT_REQUIRE_TOOLS=1). Playwright's async API runs in the test's event loop."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def require_browser() -> None:
    missing = []
    if not Path(CHROMIUM).is_file():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    if importlib.util.find_spec("playwright") is None:
        missing.append("the playwright package (pip install playwright)")
    if missing:
        what = " and ".join(missing)
        if os.environ.get("VOICECALL_RT_REQUIRE_TOOLS") == "1":
            pytest.fail(f"{what} required (VOICECALL_RT_REQUIRE_TOOLS=1)")
        pytest.skip(f"{what} not installed")


@asynccontextmanager
async def chromium(profile: Path) -> AsyncIterator[Any]:
    """A fresh Chromium context with its profile in `profile`; closed on the way out."""
    require_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1200, "height": 900},
            locale="en-US",
        )
        context.set_default_timeout(15_000)
        try:
            yield context
        finally:
            await context.close()
