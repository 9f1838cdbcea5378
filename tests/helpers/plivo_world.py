"""Whole worlds on the fake Plivo for the Plivo-only tests (the shared integration tests
take a `carrier` argument instead and run on every carrier)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from voicecall_rt.simulator.plivo.carrier import FakePlivo
from voicecall_rt.simulator.scenario import CallPlan, ModelScript
from voicecall_rt.simulator.world import SimWorld


@asynccontextmanager
async def plivo_world(
    plans: Callable[[str], CallPlan] | CallPlan,
    script: ModelScript,
    data_dir: Path,
    **settings: Any,
) -> AsyncIterator[tuple[SimWorld, FakePlivo]]:
    """A world on the fake Plivo; on leaving it, what our bridge sent the fake model must
    have been valid and every model socket closed."""
    world = SimWorld(plans, script, data_dir, settings=settings, carrier="plivo")
    async with world:
        fake = world.carrier
        assert isinstance(fake, FakePlivo)
        yield world, fake
    for session in world.model.sessions:
        assert session.invalid == [], f"invalid client events: {session.invalid}"
        assert session.closed.is_set(), "a model socket outlived its call"
