"""Fixtures shared by every test directory: whole simulated worlds on loopback (checked after
every test), an HTTP client, an open umask; and the `slow` marker's rule.

Helper code that tests import lives in tests/helpers/; a test module never imports another
test module or a conftest (tests/unit/test_test_layout.py).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest

from tests.helpers.world import MakeWorld

if TYPE_CHECKING:
    # Imported where used: a module that fails to import fails its own tests, not every test.
    from tests.helpers.postgres_server import PostgresServer
    from voicecall_rt.config_carriers import CarrierName
    from voicecall_rt.simulator.scenario import CallPlan, ModelScript
    from voicecall_rt.simulator.world import SimWorld


# Every carrier our server speaks (`carrier` in the config), each with its fake.
CARRIERS: tuple[CarrierName, ...] = ("twilio", "telnyx", "plivo", "signalwire")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that takes `carrier` runs once per fake carrier, and its `make_world` worlds
    use that carrier (the same test, not a copy, proves a feature on every carrier); one
    marked `carriers("telnyx")` runs on those named only (what only they do)."""
    if "carrier" in metafunc.fixturenames:
        only = metafunc.definition.get_closest_marker("carriers")
        names = only.args if only is not None else CARRIERS
        assert set(names) <= set(CARRIERS), f"unknown carrier in {names}"
        metafunc.parametrize("carrier", names)


@pytest.fixture
async def make_world(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[MakeWorld]:
    """`world = await make_world(plans, script, **{"calls.maxConcurrent": 1})`.

    The worlds use the test's `carrier` when it takes one (see `pytest_generate_tests`),
    else Twilio.

    After the test, every world is shut down and checked: each event our bridge sent to the
    fake model was valid by the openai SDK's own types (with no unknown keys) and was not
    refused as the real API would refuse it, each event the fake model sent was valid too,
    every model socket is closed, and no task of ours is left running.
    """
    worlds: list[SimWorld] = []
    carrier: CarrierName = (
        request.getfixturevalue("carrier") if "carrier" in request.fixturenames else "twilio"
    )

    async def make(
        plans: Callable[[str], CallPlan] | CallPlan,
        script: ModelScript,
        **settings: Any,
    ) -> SimWorld:
        from voicecall_rt.simulator.world import SimWorld

        world = SimWorld(
            plans, script, tmp_path / f"data{len(worlds)}", settings=settings, carrier=carrier
        )
        await world.__aenter__()
        worlds.append(world)
        return world

    before = set(asyncio.all_tasks())
    yield make
    for world in reversed(worlds):
        await world.__aexit__(None, None, None)
    for world in worlds:
        # The fake model itself never sent an event the SDK's types reject.
        assert world.model.malformed == [], f"the fake model sent: {world.model.malformed}"
        for session in world.model.sessions:
            assert session.invalid == [], (
                f"invalid client events sent to the model: {session.invalid}"
            )
            assert session.closed.is_set(), "a model socket outlived its call"
    leftover = [
        t for t in asyncio.all_tasks() - before if not t.done() and t is not asyncio.current_task()
    ]
    assert not leftover, f"tasks left running: {leftover}"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def open_umask() -> Iterator[None]:
    """umask 0: anything created without an explicit mode would be world-writable, so the
    modes a test checks cannot come from the umask."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL for this pytest process (each xdist worker has its own), from the
    machine's binaries; missing, its tests skip locally and fail in CI (`missing_tool`)."""
    from tests.helpers.outside_judges import missing_tool
    from tests.helpers.postgres_server import PostgresMissingError, PostgresServer, find_postgres

    try:
        tools = find_postgres()
    except PostgresMissingError as missing:
        missing_tool(str(missing), "on this machine")
    with PostgresServer.running(tools) as server:
        yield server


@pytest.fixture
async def pg_url(postgres: PostgresServer) -> AsyncIterator[str]:
    """A fresh, empty database's DSN on `postgres`, dropped after the test; a test that
    stopped the server gets it started again for the next one."""
    url = await postgres.new_database()
    yield url
    if not postgres.is_running:
        await postgres.start()
    await postgres.drop_database(url)


# A whole world on loopback paces every call as the carrier would (20 ms a frame), so a test
# using one runs in real time (the dashboard's browser builds on it too). Other real-time
# tests (the CLI or server as a child process, the benchmark smoke, a unit test that waits
# out a real timer) carry an explicit @pytest.mark.slow. `./dev test -m "not slow"` skips
# them all; `./dev test` runs everything.
REAL_TIME_FIXTURES = frozenset({"make_world"})


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if REAL_TIME_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
