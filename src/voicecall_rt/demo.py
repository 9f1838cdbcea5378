"""`voicecall-rt demo`: one whole call, offline, shown as it happens.

The real server runs against the simulated carrier and model (simulator/world.py); the
call is placed through the local API like `voicecall-rt call` does, and the screen shows
what the live event stream carries.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console

from voicecall_rt.call.journal import ALL_CALLS
from voicecall_rt.config import Settings
from voicecall_rt.config_carriers import CARRIER_NAMES, CarrierName
from voicecall_rt.render import print_entry, print_outcome
from voicecall_rt.simulator.scenarios import pizza_booking
from voicecall_rt.simulator.world import SimWorld


async def _follow(world: SimWorld, console: Console, done: asyncio.Event) -> None:
    queue = world.server.hub.follow(ALL_CALLS)
    try:
        while not done.is_set() or not queue.empty():
            getter = asyncio.ensure_future(queue.get())
            stopper = asyncio.ensure_future(done.wait())
            finished, _ = await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if getter in finished:
                print_entry(console, getter.result())
            else:
                getter.cancel()
    finally:
        world.server.hub.unfollow(queue, ALL_CALLS)


def _demo_overrides(settings: Settings | None) -> dict[str, Any]:
    """The user's conversational settings, never their credentials or URLs."""
    if settings is None:
        return {}
    return {
        "openai.voice": settings.openai.voice,
        "vad.type": settings.vad.type,
        "vad.eagerness": settings.vad.eagerness,
        "calls.dtmfToneMs": settings.calls.dtmf_tone_ms,
        "calls.dtmfGapMs": settings.calls.dtmf_gap_ms,
        "debug": settings.debug,
    }


async def run_demo(
    console: Console,
    data_dir: Path | None = None,
    scale: float = 1.0,
    settings: Settings | None = None,
    carrier: CarrierName = "twilio",
) -> int:
    """Run the demo call; 0 when it completed with a successful outcome."""
    scenario = pizza_booking(scale)
    with contextlib.ExitStack() as stack:
        if data_dir is None:
            data_dir = Path(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="voicecall-rt-demo-"))
            )
        console.print(
            f"[bold]voicecall-rt demo[/bold] — {scenario.description}\n"
            f"[dim]Everything is simulated on this machine: a fake {CARRIER_NAMES[carrier]} "
            "carrier and a fake "
            "OpenAI Realtime model talk to the real server over loopback sockets, in real "
            "time. No credentials, no network.[/dim]\n"
        )
        async with SimWorld(
            scenario.carrier,
            scenario.model,
            data_dir,
            settings=_demo_overrides(settings),
            carrier=carrier,
        ) as world:
            done = asyncio.Event()
            follower = asyncio.create_task(_follow(world, console, done))
            console.print(f"[dim]task:[/dim] {scenario.task}")
            call_id = await world.place(scenario.to_number, scenario.task)
            data = await world.wait_call(call_id, timeout_s=120)
            done.set()
            await follower
        ok = print_outcome(console, data)
        console.print(f"[dim]call history: {data_dir}[/dim]")
    return 0 if ok else 1
