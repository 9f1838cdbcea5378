"""One measured run: the row of the benchmark's table for one target at one N.

N calls against one target, a steady window in which latency, server CPU and memory, and
the generator's own CPU and lag are read (optionally with py-spy on the server), then the
hang-up and a count of what the server left behind; and what the CI smoke asserts of such
a run (`correctness_problems`).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from array import array
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.calls import RunOptions, ending, hang_up_all, place_calls, wait_until
from benchmarks.fake_model import FakeModel
from benchmarks.markers import FRAME_S
from benchmarks.procstat import ProcStat, self_cpu_seconds
from benchmarks.recorder import Recorder, ms_summary
from benchmarks.target_process import Target, pick_cpus


class _Profiler:
    def __init__(self, pid: int, out: Path, seconds: float) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.pid, self.out, self.seconds = pid, out, seconds

    def start(self) -> None:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        beside = Path(sys.executable).with_name("py-spy")  # installed into the same venv
        exe = str(beside) if beside.exists() else "py-spy"
        base = [exe, "record", "--pid", str(self.pid), "--duration", str(int(self.seconds))]
        base += ["--rate", "100", "--format", "raw", "-o", str(self.out)]
        if os.environ.get("VCRT_BENCH_NATIVE"):  # C frames too (uvloop, aiohttp's parser)
            base.append("--native")
        try:
            self.proc = subprocess.Popen(base, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        except FileNotFoundError:
            print("py-spy not found: no profile (pip install py-spy)", file=sys.stderr)

    async def wait(self) -> None:
        if self.proc is not None:
            await asyncio.to_thread(self.proc.wait, 60)


async def run_once(opts: RunOptions) -> dict[str, Any]:
    """Run N calls against one target; everything measured, as a dict."""
    loop = asyncio.get_running_loop()
    rec = Recorder()
    ours = opts.kind.startswith("ours")
    barge_frames = int(opts.barge_every_s / FRAME_S) if ours else 0
    fake = FakeModel(rec, barge_every_frames=barge_frames, carrier=opts.side)
    await fake.start()
    server_cpu, lg_cpu = opts.server_cpu, opts.loadgen_cpu
    if opts.pin and server_cpu is None:
        server_cpu, lg_cpu = pick_cpus()
    old_affinity = os.sched_getaffinity(0)
    if opts.pin and lg_cpu is not None:
        os.sched_setaffinity(0, {lg_cpu})
    target = Target(
        opts.kind,
        fake,
        max_calls=opts.n + 16,
        cpu=server_cpu if opts.pin else None,
        carrier=opts.side.name,
    )
    result: dict[str, Any] = {
        "kind": opts.kind,
        "carrier": opts.side.name,
        "n": opts.n,
        "seconds": opts.seconds,
    }
    connector = aiohttp.TCPConnector(force_close=True, limit=64)
    http = aiohttp.ClientSession(connector=connector)
    try:
        await target.start()
        stat = ProcStat(target.pid)
        result["stat_backend"] = stat.backend
        base_fds_cold = stat.num_fds()
        next_index = 0
        if opts.warmup:  # one short call first: lazily created things are not leftovers
            warm = await place_calls(rec, opts, target.port, next_index, 1, http)
            next_index += 1
            await asyncio.sleep(0.5)
            await hang_up_all(warm)
            await wait_until(lambda: fake.open_sessions == 0, 5)
            await asyncio.sleep(0.3)
        base = {
            "fds": stat.num_fds(),
            "fds_cold": base_fds_cold,
            "threads": stat.num_threads(),
            "rss_mb": stat.rss_bytes() / 2**20,
            "model_sockets": stat.sockets_to_port(fake.port),
        }
        result["baseline"] = base
        first = next_index
        t_admit = loop.time()
        callers = await place_calls(rec, opts, target.port, first, opts.n, http)
        measured = [rec.calls[first + i] for i in range(opts.n)]
        result["admit_s"] = loop.time() - t_admit
        # every admitted call streaming both ways
        await wait_until(
            lambda: all(c.error is not None or c.down.received > 0 for c in measured), 15
        )
        await asyncio.sleep(opts.settle_s)
        # ---- steady window ----
        profiler = None
        if opts.profile is not None:
            profiler = _Profiler(target.pid, opts.profile, opts.seconds)
            profiler.start()
        rss = []
        # the leftover counters must see live calls, or their zeros later would mean nothing
        during = {"model_sockets": stat.sockets_to_port(fake.port), "fds": stat.num_fds()}
        cpu0, lg0, t0 = stat.cpu_seconds(), self_cpu_seconds(), time.perf_counter()
        rec.window = True
        end = loop.time() + opts.seconds
        while loop.time() < end:
            await asyncio.sleep(min(0.5, max(0.0, end - loop.time())))
            rss.append(stat.rss_bytes() / 2**20)
        rec.window = False
        cpu1, lg1, t1 = stat.cpu_seconds(), self_cpu_seconds(), time.perf_counter()
        if profiler is not None:
            await profiler.wait()
        window_s = t1 - t0
        frames = rec.frames_up_window + rec.frames_down_window
        cpu_s = cpu1 - cpu0
        streaming = sum(1 for c in measured if c.error is None and c.down.received > 0)
        # ---- hang up, then count what is left ----
        mixed = opts.mixed_endings and ours  # the bare relay hangs up nobody
        await hang_up_all(callers, mixed)
        t_end = loop.time()
        clean_after = await wait_until(
            lambda: (
                fake.open_sessions == 0
                and stat.num_fds() <= base["fds"]
                and stat.sockets_to_port(fake.port) == 0
            ),
            opts.leftover_timeout_s,
            0.1,
        )
        leftovers = {
            "model_sessions_open": fake.open_sessions,
            "model_sockets": stat.sockets_to_port(fake.port),
            "fds_over_baseline": stat.num_fds() - base["fds"],
            "threads_over_baseline": stat.num_threads() - base["threads"],
            "clean_after_s": None if clean_after is None else round(clean_after, 3),
        }
        # a call that never streamed is counted as failed, not as thousands of lost frames
        ok = [c for c in measured if c.error is None and c.down.received > 0]
        lost_up = sum(c.up.lost for c in ok)
        lost_down = sum(c.down.lost for c in ok)
        setup = array("d")
        for c in measured:
            if c.start_sent_at is not None and c.first_up_at is not None:
                setup.append(c.first_up_at - c.start_sent_at)
        rss_steady = max(rss) if rss else base["rss_mb"]
        result.update(
            {
                "calls": {
                    "admitted": opts.n,
                    "streaming": streaming,
                    "failed": opts.n - streaming,
                    "errors": sorted({c.error for c in measured if c.error})[:5],
                    "server_close_codes": dict(Counter(str(c.close_code) for c in measured)),
                },
                "window_s": round(window_s, 3),
                "frames_window": {"up": rec.frames_up_window, "down": rec.frames_down_window},
                "frames_per_s": frames / window_s if window_s else 0.0,
                "latency_up_ms": ms_summary(rec.lat_up),
                "latency_down_ms": ms_summary(rec.lat_down),
                "barge_in_ms": ms_summary(rec.lat_barge),
                "barge_ins": {
                    "sent": sum(c.barges_sent for c in measured),
                    "clears": sum(c.clears for c in measured),
                },
                "setup_ms": ms_summary(setup),
                "cpu": {
                    "server_s": round(cpu_s, 4),
                    "core_pct": 100.0 * cpu_s / window_s if window_s else None,
                    "us_per_frame": 1e6 * cpu_s / frames if frames else None,
                    "loadgen_core_pct": 100.0 * (lg1 - lg0) / window_s if window_s else None,
                    "loadgen_lag_ms": ms_summary(rec.lag),
                },
                "memory": {
                    "rss_base_mb": round(base["rss_mb"], 2),
                    "rss_steady_mb": round(rss_steady, 2),
                    "mb_per_call": (rss_steady - base["rss_mb"]) / opts.n if opts.n else None,
                },
                "frames": {
                    "sent_up": sum(len(c.up.sent) for c in measured),
                    "sent_down": sum(len(c.down.sent) for c in measured),
                    "lost_up": lost_up,
                    "lost_down": lost_down,
                    "reordered": sum(c.up.reordered + c.down.reordered for c in measured),
                    "duplicates": sum(c.up.duplicates + c.down.duplicates for c in measured),
                    "unknown": rec.unknown_markers,
                },
                "marks_received": sum(c.marks_received for c in measured),
                "model_client_events": dict(fake.client_events),
                "carrier_rest_requests": fake.rest_requests,
                "endings": dict(Counter(ending(c, mixed) for c in measured)),
                # a call ended from the model side is hung up through the carrier's API
                "expected_rest_requests": sum(
                    1 for c in measured if ending(c, mixed) == "model" and c.error is None
                ),
                "hangup_s": round(loop.time() - t_end, 3),
                "leftovers": leftovers,
                "during": during,
                "cpus": {"server": server_cpu, "loadgen": lg_cpu} if opts.pin else None,
            }
        )
    finally:
        await http.close()
        result["target_exit"] = await target.stop()
        await fake.close()
        if opts.pin:
            os.sched_setaffinity(0, old_affinity)
    return result


def correctness_problems(result: dict[str, Any]) -> list[str]:
    """What the smoke asserts: every call streamed, nothing lost or reordered, nothing left."""
    problems = []
    calls, frames, left = result["calls"], result["frames"], result["leftovers"]
    if calls["failed"]:
        problems.append(f"{calls['failed']} call(s) failed: {calls['errors']}")
    for key in ("lost_up", "lost_down", "reordered", "duplicates", "unknown"):
        if frames[key]:
            problems.append(f"{key}: {frames[key]}")
    if not result["frames_window"]["up"] or not result["frames_window"]["down"]:
        problems.append(f"no frames in the window: {result['frames_window']}")
    for key in ("model_sessions_open", "model_sockets", "fds_over_baseline"):
        if left[key]:
            problems.append(f"leftover {key}: {left[key]}")
    live = calls["admitted"]
    if result["during"]["model_sockets"] != live:
        problems.append(
            f"the socket counter saw {result['during']['model_sockets']} model sockets "
            f"during {live} calls"
        )
    if result.get("carrier_rest_requests") != result.get("expected_rest_requests", 0):
        problems.append(
            f"carrier REST requests: {result['carrier_rest_requests']}, expected "
            f"{result.get('expected_rest_requests', 0)} (hang-ups of model-ended calls)"
        )
    return problems
