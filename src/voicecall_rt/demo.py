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
from rich.panel import Panel
from rich.table import Table

from voicecall_rt.call.journal import ALL_CALLS
from voicecall_rt.config import Settings
from voicecall_rt.simulator.scenarios import pizza_booking
from voicecall_rt.simulator.world import SimWorld

_ROLE_STYLE = {"caller": ("callee", "cyan"), "assistant": ("AI", "green"), "system": ("·", "dim")}
_QUIET_EVENTS = {"model.retry", "model.first_audio", "status", "created", "answered", "settled"}


def _line(console: Console, entry: dict[str, Any]) -> None:
    t = f"{entry['t_ms'] / 1000:6.1f}s"
    kind = entry["kind"]
    if kind == "transcript":
        who, style = _ROLE_STYLE.get(entry["role"], (entry["role"], "white"))
        cut = " [dim](interrupted)[/dim]" if entry.get("interrupted") else ""
        console.print(f"{t}  [{style}]{who:>6}[/{style}]  {entry['text']}{cut}", highlight=False)
        return
    data = entry.get("data", {})
    if kind == "call.status":
        console.print(f"{t}  [yellow]status[/yellow]  {data['status']}", highlight=False)
    elif kind == "model.ready":
        console.print(f"{t}  [dim]model session ready (pre-warmed, {data['connect_ms']} ms)[/dim]")
    elif kind == "stream.start":
        console.print(f"{t}  [dim]audio bridged (model ready: {data['model_ready']})[/dim]")
    elif kind == "placed":
        console.print(f"{t}  [yellow]  dial[/yellow]  {data['to']}", highlight=False)
    elif kind == "amd":
        console.print(f"{t}  [dim]answering-machine detection: {data['answered_by']}[/dim]")
    elif kind == "outcome":
        console.print(f"{t}  [magenta]  tool[/magenta]  report_outcome: {data['summary']}")
    elif kind == "dtmf":
        console.print(
            f"{t}  [magenta]  tool[/magenta]  send_dtmf {data['digits']}: "
            f"{data['audio_ms']} ms of keypad tones on the line",
            highlight=False,
        )
    elif kind == "barge_in":
        cuts = ", ".join(f"{c['audio_end_ms']} ms" for c in data["items"])
        console.print(
            f"{t}  [yellow] barge[/yellow]  callee talked over the model: its audio stopped "
            f"after {cuts} (carrier queue cleared, item truncated)",
            highlight=False,
        )
    elif kind == "voicemail":
        console.print(f"{t}  [yellow]    vm[/yellow]  answering machine: leaving a message")
    elif kind == "tool":
        console.print(f"{t}  [magenta]  tool[/magenta]  {data['name']} ({data.get('reason', '')})")
    elif kind == "turn.latency":
        console.print(f"{t}  [dim]model answered {data['ms']} ms after the callee stopped[/dim]")
    elif kind == "end":
        console.print(f"{t}  [yellow]   end[/yellow]  {data['reason']}")
    elif kind not in _QUIET_EVENTS:
        console.print(f"{t}  [dim]{kind}[/dim]")


async def _follow(world: SimWorld, console: Console, done: asyncio.Event) -> None:
    queue = world.server.hub.follow(ALL_CALLS)
    try:
        while not done.is_set() or not queue.empty():
            getter = asyncio.ensure_future(queue.get())
            stopper = asyncio.ensure_future(done.wait())
            finished, _ = await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if getter in finished:
                _line(console, getter.result())
            else:
                getter.cancel()
    finally:
        world.server.hub.unfollow(queue, ALL_CALLS)


def _summary(console: Console, data: dict[str, Any]) -> bool:
    record = data["call"]
    outcome = record.get("outcome")
    ok = record["status"] == "completed" and bool(outcome and outcome["success"])
    body = Table.grid(padding=(0, 2))
    body.add_row("status", f"{record['status']} ({record.get('end_reason')})")
    body.add_row("duration", f"{record.get('duration_s') or 0:.1f} s")
    if outcome:
        body.add_row(
            "outcome", ("success: " if outcome["success"] else "failed: ") + outcome["summary"]
        )
        for key, value in (outcome.get("details") or {}).items():
            body.add_row(f"  {key}", str(value))
    latencies = [e["data"]["ms"] for e in data["events"] if e["kind"] == "turn.latency"]
    if latencies:
        body.add_row(
            "turn latency",
            f"{min(latencies)}–{max(latencies)} ms from end of speech to the first model audio "
            "(the simulated model answers at once; gpt-realtime takes ~200–300 ms)",
        )
    ready = [e["data"]["connect_ms"] for e in data["events"] if e["kind"] == "model.ready"]
    if ready:
        body.add_row("pre-warm", f"model session ready {ready[0]} ms after the call was placed")
    console.print(Panel(body, title="call outcome", border_style="green" if ok else "red"))
    return ok


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
            "[dim]Everything is simulated on this machine: a fake Twilio carrier and a fake "
            "OpenAI Realtime model talk to the real server over loopback sockets, in real "
            "time. No credentials, no network.[/dim]\n"
        )
        async with SimWorld(
            scenario.carrier, scenario.model, data_dir, settings=_demo_overrides(settings)
        ) as world:
            done = asyncio.Event()
            follower = asyncio.create_task(_follow(world, console, done))
            console.print(f"[dim]task:[/dim] {scenario.task}")
            call_id = await world.place(scenario.to_number, scenario.task)
            data = await world.wait_call(call_id, timeout_s=120)
            done.set()
            await follower
        ok = _summary(console, data)
        console.print(f"[dim]call history: {data_dir}[/dim]")
    return 0 if ok else 1
