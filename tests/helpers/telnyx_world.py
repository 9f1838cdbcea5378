"""Whole worlds on the fake Telnyx for the Telnyx-only tests (the shared integration tests
take a `carrier` argument instead and run on every carrier)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from voicecall_rt.simulator.scenario import CallPlan, ModelScript
from voicecall_rt.simulator.telnyx.carrier import FakeTelnyx
from voicecall_rt.simulator.world import SimWorld


@asynccontextmanager
async def telnyx_world(
    plans: Callable[[str], CallPlan] | CallPlan,
    script: ModelScript,
    data_dir: Path,
    **settings: Any,
) -> AsyncIterator[tuple[SimWorld, FakeTelnyx]]:
    """A world on the fake Telnyx (`world.carrier`, typed); on leaving it, every event our
    bridge sent the fake model must have been valid and every model socket closed."""
    async with SimWorld(plans, script, data_dir, settings=settings, carrier="telnyx") as world:
        fake = world.carrier
        assert isinstance(fake, FakeTelnyx)
        yield world, fake
    problems = [(s.invalid, s.closed.is_set()) for s in world.model.sessions]
    assert all(invalid == [] and closed for invalid, closed in problems), problems
