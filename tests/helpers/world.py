"""The type of the `make_world` fixture (tests/conftest.py), for test signatures."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from voicecall_rt.simulator.world import SimWorld

MakeWorld = Callable[..., Awaitable["SimWorld"]]
"""`world = await make_world(plans, script, **settings)`: a whole simulated world on loopback."""
