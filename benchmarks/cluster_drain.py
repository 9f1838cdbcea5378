"""A rolling restart under load: two instances on one PostgreSQL with calls on both, then
SIGTERM to instance 1 while its calls are mid-way, with `server.drainTimeoutSeconds` well
beyond what is left of them.

What must hold (`drain_problems`): instance 1 says not-ready at once and refuses a new
call; new calls go to instance 2 meanwhile (the load generator routes by `/ready`, as a
load balancer would); instance 1's calls go on streaming through the drain, none is
dropped or loses a frame, and each ends the ordinary way (the caller's `stop`: never
`shutdown`, `server-draining` or `instance-lost` in the database); instance 1 exits 0
once its last call has ended.
"""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from typing import Any

import aiohttp
from tests.helpers.polling import eventually
from tests.helpers.postgres_server import PostgresServer

from benchmarks.calls import RunOptions, hang_up_all, wait_until
from benchmarks.cluster_db import Database
from benchmarks.cluster_instances import Instance, place_spread, shares, start_instances, stop_all
from benchmarks.cluster_instances import streaming as is_streaming
from benchmarks.cluster_steady import STREAMING_TIMEOUT_S, cluster_cpus
from benchmarks.fake_model import FakeModel
from benchmarks.markers import FRAME_S
from benchmarks.recorder import Call, Recorder

# End reasons that mean our side cut a call short; a drain that works never writes them.
CUT_SHORT = ("shutdown", "server-draining", "instance-lost")
READY_TIMEOUT_S = 5.0
EXIT_TIMEOUT_S = 30.0


async def _ready(http: aiohttp.ClientSession, inst: Instance) -> bool:
    try:
        async with http.get(f"http://127.0.0.1:{inst.port}/ready") as response:
            return response.status == 200
    except aiohttp.ClientError:
        return False  # a closed port is not ready either


async def run_drain(
    opts: RunOptions,
    pg: PostgresServer,
    *,
    drain_timeout_s: float = 120.0,
    new_calls: int | None = None,
) -> dict[str, Any]:
    """`opts.n` calls over two instances; instance 1 drained half-way through the window,
    `new_calls` (default: a quarter of N, at least 2) placed while it drains."""
    rec = Recorder()
    fake = FakeModel(rec, barge_every_frames=int(opts.barge_every_s / FRAME_S))
    await fake.start()
    db = await Database.fresh(pg)
    try:
        return await _run(opts, pg, db, fake, rec, drain_timeout_s, new_calls)
    finally:
        await fake.close()
        await db.drop()


async def _run(
    opts: RunOptions,
    pg: PostgresServer,
    db: Database,
    fake: FakeModel,
    rec: Recorder,
    drain_timeout_s: float,
    new_calls: int | None,
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    extra = new_calls if new_calls is not None else max(2, opts.n // 4)
    result: dict[str, Any] = {"kind": "drain", "n": opts.n, "drain_timeout_s": drain_timeout_s}
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True, limit=64))
    insts: list[Instance] = []
    try:
        insts = await start_instances(
            fake,
            db.url,
            opts,
            cluster_cpus(2, opts.pin),
            max_calls=opts.n + extra + 16,
            drain_timeout_s=drain_timeout_s,
        )
        first = insts[0]
        calls = await place_spread(rec, insts, shares(opts.n, 2), 0, http)
        await wait_until(
            lambda: all(c.error is not None or c.down.received > 0 for c in calls),
            STREAMING_TIMEOUT_S,
        )
        await asyncio.sleep(opts.settle_s + opts.seconds / 2)  # calls mid-way
        draining = list(first.calls)
        at_signal = {c.index: c.down.received for c in draining}
        t_signal = loop.time()
        assert first.target.proc is not None
        first.target.proc.send_signal(signal.SIGTERM)

        async def not_ready_yet() -> bool:
            return not await _ready(http, first)

        await eventually(not_ready_yet, READY_TIMEOUT_S, "vc-1 says not ready", 0.01)
        not_ready = loop.time() - t_signal
        # a call offered to the draining instance itself is refused (busy)
        probe = await place_spread(rec, [first], [1], len(calls), http)
        ready = [inst for inst in insts if await _ready(http, inst)]
        later: list[Call] = []
        if ready:  # none: every new call would be refused, as the checks will say
            later = await place_spread(rec, ready, shares(extra, len(ready)), len(calls) + 1, http)
        await wait_until(
            lambda: all(c.error is not None or c.down.received > 0 for c in later),
            STREAMING_TIMEOUT_S,
        )
        rest = opts.seconds / 2 - (loop.time() - t_signal)
        await asyncio.sleep(max(0.0, rest))
        still_running = first.target.proc.returncode is None
        through = sum(1 for c in draining if c.down.received > at_signal[c.index])
        dropped = [c for c in calls + later if is_streaming(c) and _closed(c)]
        t_hangup = loop.time()
        await hang_up_all([c for inst in insts for c in inst.callers])
        try:
            async with asyncio.timeout(EXIT_TIMEOUT_S):
                exit_code = await first.target.proc.wait()
            exit_after = loop.time() - t_hangup
        except TimeoutError:
            exit_code, exit_after = None, None
        draining_sids = {c.call_sid for c in draining}
        new_sids = {c.call_sid for c in later}
        result.update(
            {
                "calls_on_draining": len(draining),
                "streaming_on_draining": sum(1 for c in draining if is_streaming(c)),
                "streamed_through_drain": through,
                "still_running_at_window_end": still_running,
                "dropped": len(dropped),
                "lost_frames_on_draining": sum(
                    c.up.lost + c.down.lost for c in draining if is_streaming(c)
                ),
                "not_ready_after_s": round(not_ready, 3),
                "refused_at_draining": probe[0].error is not None,
                "new_calls": len(later),
                "new_calls_streaming": sum(1 for c in later if is_streaming(c)),
                "ready_instances_during_drain": [inst.name for inst in ready],
                "exit_code": exit_code,
                "exit_after_last_hangup_s": None if exit_after is None else round(exit_after, 3),
                "failed": sum(1 for c in calls if not is_streaming(c)),
            }
        )
    finally:
        await http.close()
        result["target_exit"] = await stop_all(insts)
    await db.wait_disconnected()
    rows = await db.calls()
    # the refused probe's row, if the draining instance keeps one, is neither
    on_first = [r for r in rows if r["carrier_sid"] in draining_sids]
    new_rows = [r for r in rows if r["carrier_sid"] in new_sids]
    result["db"] = {
        "owners_of_draining_calls": dict(Counter(str(r["owner"]) for r in on_first)),
        "end_reasons_on_draining": dict(Counter(str(r["end_reason"]) for r in on_first)),
        "statuses_on_draining": dict(Counter(str(r["status"]) for r in on_first)),
        "owners_of_new_calls": dict(Counter(str(r["owner"]) for r in new_rows)),
        "cut_short": sum(1 for r in on_first + new_rows if r["end_reason"] in CUT_SHORT),
    }
    result["dropped_calls"] = result.get("dropped", 0) + result["db"]["cut_short"]
    return result


def _closed(call: Call) -> bool:
    return call.caller is not None and call.caller.closed


def drain_problems(result: dict[str, Any]) -> list[str]:
    """What a drain under load must show; empty when it dropped nothing."""
    draining = result.get("calls_on_draining", 0)
    db = result.get("db", {})
    checks = [
        (draining > 0, "no call on the drained instance"),
        (result.get("failed") == 0, f"{result.get('failed')} call(s) never streamed"),
        (result.get("refused_at_draining") is True, "the draining instance took a new call"),
        (
            result.get("ready_instances_during_drain") == ["vc-2"],
            f"ready while vc-1 drained: {result.get('ready_instances_during_drain')}",
        ),
        (
            result.get("new_calls_streaming") == result.get("new_calls"),
            f"new calls during the drain: {result.get('new_calls_streaming')} of "
            f"{result.get('new_calls')} streamed",
        ),
        (
            db.get("owners_of_new_calls") == {"vc-2": result.get("new_calls")},
            f"new calls owned by {db.get('owners_of_new_calls')}",
        ),
        (
            result.get("streamed_through_drain") == draining,
            f"{result.get('streamed_through_drain')} of {draining} call(s) streamed on "
            "through the drain",
        ),
        (result.get("still_running_at_window_end") is True, "vc-1 exited with calls live"),
        (result.get("dropped_calls") == 0, f"dropped: {result.get('dropped_calls')}"),
        (result.get("lost_frames_on_draining") == 0, "frames lost on the drained instance"),
        (
            db.get("owners_of_draining_calls") == {"vc-1": draining},
            f"owners of vc-1's calls: {db.get('owners_of_draining_calls')}",
        ),
        (
            db.get("statuses_on_draining") == {"completed": draining},
            f"statuses on vc-1: {db.get('statuses_on_draining')}",
        ),
        (
            not set(db.get("end_reasons_on_draining", {})) & set(CUT_SHORT),
            f"end reasons on vc-1: {db.get('end_reasons_on_draining')}",
        ),
        (result.get("exit_code") == 0, f"vc-1 exit code {result.get('exit_code')}"),
    ]
    return [message for ok, message in checks if not ok]
