"""Fixtures shared by the unit tests: logging put back, a store on each backend, an
isolated config home, and the app playing our server for the fake Twilio's tests."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from voicecall_rt import logs

if TYPE_CHECKING:
    # Imported where used: a module that fails to import fails its own tests, not every test.
    from tests.helpers.fake_twilio_harness import OurServer
    from tests.helpers.store_backends import StoreBackend
    from voicecall_rt.store import Store


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put the root logger back as it was after a test installs our logging."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    if logs._installed is not None:
        root.removeHandler(logs._installed[0])
        logs._installed = None
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)


@pytest.fixture(params=["sqlite", "postgres"])  # store_backends.BACKENDS
def store_backend(request: pytest.FixtureRequest, tmp_path: Path) -> StoreBackend:
    """A database of its own for the test, once per backend: SQLite under tmp_path/data,
    then a fresh PostgreSQL database (`pg_url`: skipped locally, failed in CI, without one)."""
    from tests.helpers.store_backends import StoreBackend

    if request.param == "sqlite":
        return StoreBackend("sqlite", tmp_path / "data")
    return StoreBackend("postgres", request.getfixturevalue("pg_url"))


@pytest.fixture
async def store(store_backend: StoreBackend) -> AsyncIterator[Store]:
    """An open store on `store_backend` (each test runs on both), closed after the test."""
    s = await store_backend.open()
    yield s
    await s.close()


@pytest.fixture
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Never read or write the real home directory; no default config file exists.

    The config tests use it for every test (`pytestmark = pytest.mark.usefixtures(...)`)."""
    from voicecall_rt import config_file

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for variable in (
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "OPENAI_API_KEY",
        config_file.CONFIG_ENV,
    ):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(
        config_file,
        "default_config_paths",
        lambda: [home / "none" / "config.toml", home / "none" / "openclaw.json"],
    )
    return home


@pytest.fixture
async def server() -> AsyncIterator[OurServer]:
    """The app playing our server for the fake Twilio's tests, on a loopback port."""
    from tests.helpers.fake_twilio_harness import OurServer

    srv = OurServer()
    await srv.start()
    yield srv
    await srv.stop()
