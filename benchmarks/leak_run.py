"""The leak check: thousands of short calls through one server, in waves.

A leak of a few kB per call is lost in one steady run's noise; it shows only as growth
over many calls. So RSS and descriptors are read after every wave, once its calls have
ended, and the growth is taken over the second half, after caches have filled.
"""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

import aiohttp

from benchmarks.calls import RunOptions, hang_up_all, place_calls, wait_until
from benchmarks.fake_model import FakeModel
from benchmarks.markers import FRAME_S
from benchmarks.procstat import ProcStat
from benchmarks.recorder import Recorder
from benchmarks.sides import side
from benchmarks.target_process import Target, pick_cpus


async def run_leak(
    total: int = 1000,
    wave: int = 50,
    call_s: float = 1.0,
    pin: bool = True,
    carrier: str = "twilio",
) -> dict[str, Any]:
    """Leak check: `total` calls through one server, `wave` at a time, each `call_s` long.

    RSS and descriptors are read after every wave, once its calls have ended; a leak shows
    as growth from the early waves to the last ones.
    """
    rec = Recorder()
    fake = FakeModel(rec, barge_every_frames=int(0.5 / FRAME_S), carrier=side(carrier))
    await fake.start()
    server_cpu, lg_cpu = pick_cpus() if pin else (None, None)
    old_affinity = os.sched_getaffinity(0)
    if lg_cpu is not None:
        os.sched_setaffinity(0, {lg_cpu})
    opts = RunOptions(kind="ours", n=wave, seconds=call_s, pin=pin, ramp_per_s=200, carrier=carrier)
    target = Target("ours", fake, max_calls=wave + 16, cpu=server_cpu, carrier=carrier)
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True, limit=64))
    waves: list[dict[str, Any]] = []
    try:
        await target.start()
        stat = ProcStat(target.pid)
        index = 0
        while index < total:
            n = min(wave, total - index)
            callers = await place_calls(rec, opts, target.port, index, n, http)
            index += n
            await asyncio.sleep(call_s)
            await hang_up_all(callers)
            await wait_until(lambda: fake.open_sessions == 0, 10)
            await asyncio.sleep(0.2)
            if os.environ.get("VCRT_BENCH_TRACEMALLOC") or os.environ.get("VCRT_BENCH_GC"):
                os.kill(target.pid, signal.SIGUSR1)  # leak hunting (target.py): snapshot / gc
                await asyncio.sleep(0.2)
            waves.append(
                {
                    "calls": index,
                    "rss_mb": round(stat.rss_bytes() / 2**20, 2),
                    "fds": stat.num_fds(),
                    "model_sockets": stat.sockets_to_port(fake.port),
                }
            )
        measured = [rec.calls[i] for i in range(total)]
        # Growth is read over the second half: the first calls warm caches that fill and
        # stop (SQLite's page cache takes ~1,000 calls), a leak keeps growing to the end.
        early = waves[len(waves) // 2 - 1] if len(waves) > 1 else waves[0]
        last = waves[-1]
        calls_between = max(1, last["calls"] - early["calls"])
        return {
            "calls": total,
            "wave": wave,
            "failed": sum(1 for c in measured if c.error or not c.down.received),
            "lost": sum(c.up.lost + c.down.lost for c in measured),
            "reordered": sum(c.up.reordered + c.down.reordered for c in measured),
            "waves": waves,
            "rss_growth_mb": round(last["rss_mb"] - early["rss_mb"], 2),
            "rss_growth_kb_per_100_calls": round(
                (last["rss_mb"] - early["rss_mb"]) * 1024 * 100 / calls_between, 1
            ),
            "fds_growth": last["fds"] - early["fds"],
            "model_sockets_left": last["model_sockets"],
        }
    finally:
        await http.close()
        await target.stop()
        await fake.close()
        if lg_cpu is not None:
            os.sched_setaffinity(0, old_affinity)
