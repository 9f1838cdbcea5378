"""One measured run of several instances on one PostgreSQL, or of one on SQLite: N calls
spread over them, a steady window in which latency and each instance's CPU (and the
database's) are read, the hang-up, and what the database wrote for those calls.

Measured as `steady_run.py` measures one instance (the same recorder, markers, fake model
and callers). Both targets of the cluster benchmark go through this one module, so a call
dropped mid-way (the server closed its stream before the caller hung up), which
`steady_run.py` does not count apart, is counted the same way for both.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from typing import Any

import aiohttp
from tests.helpers.postgres_server import PostgresServer

from benchmarks.calls import RunOptions, ending, hang_up_all, wait_until
from benchmarks.cluster_db import Database, postgres_cpu_seconds
from benchmarks.cluster_instances import Instance, place_spread, shares, start_instances, stop_all
from benchmarks.cluster_instances import streaming as is_streaming
from benchmarks.fake_model import FakeModel
from benchmarks.markers import FRAME_S
from benchmarks.procstat import self_cpu_seconds
from benchmarks.recorder import Call, Recorder, ms_summary
from benchmarks.sides import side
from benchmarks.target_process import pick_cpus

STREAMING_TIMEOUT_S = 15.0


def cluster_cpus(count: int, pin: bool) -> list[int | None]:
    """Instance k on the k-th core this process may use; None (unpinned) when not pinning
    or when there are fewer cores than instances."""
    cores = sorted(os.sched_getaffinity(0))
    if not pin or len(cores) < count:
        return [None] * count
    return list(cores[:count])


def _closed(call: Call) -> bool:
    return call.caller is not None and call.caller.closed


def _frames(calls: list[Call]) -> int:
    return sum(c.up.received + c.down.received for c in calls)


async def run_instances_once(
    opts: RunOptions, pg: PostgresServer | None, *, instances: int = 2
) -> dict[str, Any]:
    """N = `opts.n` calls spread over `instances` instances on a fresh database of `pg`
    (the load generator and PostgreSQL unpinned); or, without `pg`, over one instance on
    SQLite, pinned as `benchmarks.run` pins it (the load generator on another core).
    Everything measured, as a dict."""
    rec = Recorder()
    barge_frames = int(opts.barge_every_s / FRAME_S)
    fake = FakeModel(rec, barge_every_frames=barge_frames, carrier=side("twilio"))
    await fake.start()
    db = await Database.fresh(pg) if pg is not None else None
    old_affinity = os.sched_getaffinity(0)
    if db is None:
        server_cpu, loadgen_cpu = pick_cpus() if opts.pin else (None, None)
        cpus = [server_cpu]
        if loadgen_cpu is not None:
            os.sched_setaffinity(0, {loadgen_cpu})
    else:
        cpus = cluster_cpus(instances, opts.pin)
    try:
        return await _run(opts, pg, db, fake, rec, cpus)
    finally:
        os.sched_setaffinity(0, old_affinity)
        await fake.close()
        if db is not None:
            await db.drop()


async def _run(
    opts: RunOptions,
    pg: PostgresServer | None,
    db: Database | None,
    fake: FakeModel,
    rec: Recorder,
    cpus: list[int | None],
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    result: dict[str, Any] = {
        "kind": "cluster" if db is not None else "single",
        "instances": len(cpus),
        "n": opts.n,
        "seconds": opts.seconds,
        "cpus": {f"vc-{k}": cpu for k, cpu in enumerate(cpus, start=1)},
        "loadgen_cpus": sorted(os.sched_getaffinity(0)),
    }
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True, limit=64))
    insts: list[Instance] = []
    before = None
    try:
        # from before the instances start: their registration is part of what they write
        before = await db.counters() if db is not None else None
        store_url = db.url if db is not None else None
        insts = await start_instances(fake, store_url, opts, cpus, max_calls=opts.n + 16)
        t_admit = loop.time()
        calls = await place_spread(rec, insts, shares(opts.n, len(insts)), 0, http)
        result["admit_s"] = round(loop.time() - t_admit, 3)
        await wait_until(
            lambda: all(c.error is not None or c.down.received > 0 for c in calls),
            STREAMING_TIMEOUT_S,
        )
        await asyncio.sleep(opts.settle_s)  # as steady_run: let the admissions settle
        result.update(await _window(opts, rec, insts, pg))
        # a call the server closed before the caller hung up was dropped
        dropped = sum(1 for c in calls if is_streaming(c) and _closed(c))
        mixed = opts.mixed_endings
        # calls were admitted evenly over admit_s: on average they began half-way through it
        result["mean_call_s"] = round(loop.time() - t_admit - result["admit_s"] / 2, 3)
        await hang_up_all([c for inst in insts for c in inst.callers], mixed)
        clean = await wait_until(lambda: fake.open_sessions == 0, opts.leftover_timeout_s, 0.1)
        ok = [c for c in calls if is_streaming(c)]
        result["calls"] = {
            "admitted": opts.n,
            "streaming": len(ok),
            "failed": opts.n - len(ok),
            "dropped": dropped,
            "held": len(ok) - dropped,
            "errors": sorted({c.error for c in calls if c.error})[:5],
            "per_instance": {inst.name: len(inst.calls) for inst in insts},
        }
        result["frames"] = {
            "sent_up": sum(len(c.up.sent) for c in calls),
            "sent_down": sum(len(c.down.sent) for c in calls),
            "lost_up": sum(c.up.lost for c in ok),
            "lost_down": sum(c.down.lost for c in ok),
            "reordered": sum(c.up.reordered + c.down.reordered for c in calls),
            "duplicates": sum(c.up.duplicates + c.down.duplicates for c in calls),
            "unknown": rec.unknown_markers,
        }
        result["endings"] = dict(Counter(ending(c, mixed) for c in calls))
        result["carrier_rest_requests"] = fake.rest_requests
        result["expected_rest_requests"] = sum(1 for c in ok if ending(c, mixed) == "model")
        result["leftovers"] = {
            "model_sessions_open": fake.open_sessions,
            "clean_after_s": None if clean is None else round(clean, 3),
        }
    finally:
        await http.close()
        result["target_exit"] = await stop_all(insts)
    if db is not None and before is not None:
        # every backend of the instances reports its counts as it exits
        result["db_disconnected"] = await db.wait_disconnected()
        result["db"] = (await db.counters()).minus(before, opts.n)
        minutes = opts.n * result["mean_call_s"] / 60
        result["db"]["rows_per_call_minute"] = round(result["db"]["rows_written"] / minutes, 1)
        result["db"]["commits_per_call_minute"] = round(result["db"]["commits"] / minutes, 1)
    return result


async def _window(
    opts: RunOptions, rec: Recorder, insts: list[Instance], pg: PostgresServer | None
) -> dict[str, Any]:
    """The steady window: latencies (the recorder's), each instance's CPU and frames, the
    database's CPU and the load generator's own."""
    frames0 = {inst.name: _frames(inst.calls) for inst in insts}
    cpu0 = {inst.name: inst.stat.cpu_seconds() for inst in insts}
    db0 = None if pg is None else await asyncio.to_thread(postgres_cpu_seconds, pg.data)
    lg0, t0 = self_cpu_seconds(), time.perf_counter()
    rec.window = True
    await asyncio.sleep(opts.seconds)  # the window itself: frames flow meanwhile
    rec.window = False
    lg1, t1 = self_cpu_seconds(), time.perf_counter()
    db1 = None if pg is None else await asyncio.to_thread(postgres_cpu_seconds, pg.data)
    window_s = t1 - t0
    per_instance = []
    for inst in insts:
        cpu_s = inst.stat.cpu_seconds() - cpu0[inst.name]
        frames = _frames(inst.calls) - frames0[inst.name]
        per_instance.append(
            {
                "instance": inst.name,
                "calls": len(inst.calls),
                "server_s": round(cpu_s, 4),
                "core_pct": 100.0 * cpu_s / window_s,
                "us_per_frame": 1e6 * cpu_s / frames if frames else None,
                "frames": frames,
            }
        )
    db_s = None if db0 is None or db1 is None else db1 - db0
    return {
        "window_s": round(window_s, 3),
        "frames_window": {"up": rec.frames_up_window, "down": rec.frames_down_window},
        "latency_up_ms": ms_summary(rec.lat_up),
        "latency_down_ms": ms_summary(rec.lat_down),
        "barge_in_ms": ms_summary(rec.lat_barge),
        "cpu": {
            "instances": per_instance,
            "core_pct": sum(i["core_pct"] for i in per_instance),
            "db_core_pct": None if db_s is None else 100.0 * db_s / window_s,
            "loadgen_core_pct": 100.0 * (lg1 - lg0) / window_s,
            "loadgen_lag_ms": ms_summary(rec.lag),
        },
    }
