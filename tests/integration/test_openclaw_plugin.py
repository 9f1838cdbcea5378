"""The OpenClaw plugin (integrations/openclaw) tested with the real thing: its own Node tests
(`node --test`) run against our real server in a simulated world, and its sources type-check
against the published `openclaw` package's plugin SDK types.

The Node tests drive the plugin's `register` with a host double typed by the SDK's own
types; what they need to know about the world (where the server is, its token, the numbers
whose calls are scripted and what those calls will say) comes in the environment.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
import pytest

from tests.helpers.openclaw_calls import (
    ALWAYS_BUSY_NUMBER,
    BOOKING,
    BOOKING_NUMBER,
    BUSY_THEN_ANSWERED_NUMBER,
    LONG_NUMBER,
    OUTCOME,
    SCRIPT,
    plan_for,
    retry_plans,
)
from tests.helpers.openclaw_plugin import Plugin, require_plugin, run
from tests.helpers.scheduler_clock import never_waiting
from tests.helpers.scheduling_world import SILENT, retry
from tests.helpers.world import MakeWorld
from voicecall_rt.simulator.scenario import callee_lines

if TYPE_CHECKING:
    from voicecall_rt.simulator.world import SimWorld

# 07:00 in San Francisco (the test numbers' zone), two hours before calls.hours open.
MONDAY_7AM_IN_SAN_FRANCISCO = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)


def _node_env(plugin: Plugin, world: SimWorld, home: Path, **extra: str) -> dict[str, str]:
    booking = {"outcome": OUTCOME, "calleeLines": list(callee_lines(BOOKING))}
    return plugin.env(
        HOME=str(home),  # no token file but the test's own
        VOICECALL_RT_URL=world.server.local_url,
        VOICECALL_RT_TOKEN=world.server.api_token,
        VOICECALL_RT_BOOKING_NUMBER=BOOKING_NUMBER,
        VOICECALL_RT_LONG_NUMBER=LONG_NUMBER,
        VOICECALL_RT_BOOKING_SCRIPT=orjson.dumps(booking).decode(),
        **extra,
    )


async def _node_tests(plugin: Plugin, tests: list[Path], env: dict[str, str]) -> None:
    assert tests, "no Node tests found"
    # Node's own per-test limit names a stuck test; ours stops Node well within pytest's.
    ran = await run(
        plugin,
        "--test",
        "--test-reporter=spec",
        "--test-timeout=40000",
        *tests,
        env=env,
        timeout_s=100,
    )
    assert ran.code == 0, ran.report()


async def test_node_tests_against_the_real_server(make_world: MakeWorld, tmp_path: Path) -> None:
    plugin: Plugin = await require_plugin()
    world = await make_world(plan_for, SCRIPT)
    tests = sorted(plugin.root.glob("test/*.test.ts"))
    await _node_tests(plugin, tests, _node_env(plugin, world, tmp_path))

    # Every call the tests placed reached the fake carrier; the refused ones never did, nor
    # did the calls scheduled for later.
    dialled = {call.to for call in world.carrier.calls.values()}
    assert dialled == {BOOKING_NUMBER, LONG_NUMBER}
    for call in world.carrier.calls.values():
        assert call.status in ("completed", "canceled"), (call.to, call.status)


async def test_node_tests_outside_calling_hours(make_world: MakeWorld, tmp_path: Path) -> None:
    """test/calling-hours/: a world whose hours forbid the test numbers' calls now."""
    plugin: Plugin = await require_plugin()
    world = await make_world(
        plan_for,
        SCRIPT,
        **{"calls.hours.start": "09:00", "calls.hours.end": "20:00"},
    )
    world.server.manager.clock = lambda: MONDAY_7AM_IN_SAN_FRANCISCO
    env = _node_env(
        plugin,
        world,
        tmp_path,
        VOICECALL_RT_NEXT_ALLOWED="Mon 2026-12-07 09:00 America/Los_Angeles (17:00 UTC)",
        VOICECALL_RT_NEXT_ALLOWED_UTC="2026-12-07T17:00:00Z",
    )
    await _node_tests(plugin, sorted(plugin.root.glob("test/calling-hours/*.test.ts")), env)
    assert world.carrier.calls == {}  # refused, or scheduled for later: nothing dialled


async def test_node_tests_with_retries(make_world: MakeWorld, tmp_path: Path) -> None:
    """test/retries/: a world that retries calls that do not get through (3 attempts), whose
    scheduler places each due attempt or call for later at once (its clock jumps to the due
    time, from an hour behind the real one: tests/helpers/scheduler_clock.py)."""
    plugin: Plugin = await require_plugin()
    world = await make_world(retry_plans(), SILENT, **retry(3, backoffSeconds=10))
    assert world.server.scheduler is not None
    never_waiting(world.server.scheduler)
    env = _node_env(
        plugin,
        world,
        tmp_path,
        VOICECALL_RT_BUSY_THEN_ANSWERED_NUMBER=BUSY_THEN_ANSWERED_NUMBER,
        VOICECALL_RT_ALWAYS_BUSY_NUMBER=ALWAYS_BUSY_NUMBER,
    )
    await _node_tests(plugin, sorted(plugin.root.glob("test/retries/*.test.ts")), env)
    # Each number was dialled as its retries say: no attempt twice, none by the plugin.
    dialled = Counter(call.to for call in world.carrier.calls.values())
    assert dialled == {
        BUSY_THEN_ANSWERED_NUMBER: 2,
        ALWAYS_BUSY_NUMBER: 3,
        LONG_NUMBER: 2,  # a call for later; a call whose retries were canceled
    }


@pytest.mark.slow  # tsc over the SDK's types, a few seconds
async def test_typechecks_against_the_sdk() -> None:
    plugin = await require_plugin()
    ran = await run(
        plugin, plugin.bin("tsc"), "-p", "tsconfig.test.json", env=plugin.env(), timeout_s=100
    )
    assert ran.code == 0, ran.report()


@pytest.mark.slow  # Node, a second or two
async def test_formatted() -> None:
    """The plugin's TypeScript is as prettier writes it (`npm run format`), like ruff format."""
    plugin = await require_plugin()
    ran = await run(plugin, plugin.bin("prettier"), "--check", ".", env=plugin.env(), timeout_s=100)
    assert ran.code == 0, ran.report()
