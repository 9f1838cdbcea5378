"""The cluster benchmark (issue 13): two instances on one PostgreSQL against one on SQLite.

    python -m benchmarks.cluster_run                      # N = 100,200,400, 20 s, + drain
    python -m benchmarks.cluster_run --smoke              # N=4, 5 s, drain of 4 calls (~1 min)

For each N, in the same sitting: (a) one instance of our server on SQLite (`ours+uvloop`,
pinned to the first core, the load generator to the second, as `benchmarks.run` runs it),
N calls; (b) two instances on one throwaway PostgreSQL, N/2 calls each through each one's
own public host, instance 1 pinned to the first core and instance 2 to the second, the
load generator and PostgreSQL unpinned (a two-core machine has no third core for them).
Then, with `--drain`, a rolling restart under load (`cluster_drain.py`). Writes
benchmarks/results/<date>-<commit>-cluster.{json,md} and prints the table.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

from tests.helpers.postgres_server import PostgresServer

from benchmarks.calls import RunOptions
from benchmarks.cluster_db import throwaway_cluster
from benchmarks.cluster_drain import drain_problems, run_drain
from benchmarks.cluster_instances import KIND
from benchmarks.cluster_report import (
    drain_table,
    load_table,
    summarize,
    tables_text,
    verdict,
    verdict_text,
)
from benchmarks.cluster_steady import run_instances_once
from benchmarks.run import RESULTS
from benchmarks.run_meta import loadavg, run_meta

TARGETS = ("single", "cluster")


def _options(args: argparse.Namespace, n: int) -> RunOptions:
    return RunOptions(
        kind=KIND,
        n=n,
        seconds=args.seconds,
        pin=not args.no_pin,
        barge_every_s=args.barge_every,
        ramp_per_s=args.ramp,
        mixed_endings=not args.stop_only,
    )


async def measure(args: argparse.Namespace, pg: PostgresServer) -> dict[str, Any]:
    """Every run the arguments ask for, on `pg`; the report's data (see `report`)."""
    ns = [int(x) for x in args.n.split(",") if x]
    targets = [t for t in args.targets.split(",") if t]
    runs: dict[str, list[dict[str, Any]]] = {t: [] for t in TARGETS}
    rows = []
    for n in ns:
        for rep in range(args.repeat):
            for target in targets:
                print(f"-- {target} N={n} ({rep + 1}/{args.repeat})", flush=True)
                opts = _options(args, n)
                # one instance on SQLite, or two on the PostgreSQL cluster
                cluster = target == "cluster"
                result = await run_instances_once(
                    opts, pg if cluster else None, instances=2 if cluster else 1
                )
                result["repeat"] = rep
                runs[target].append(result)
                print(f"   {_line(result)}", flush=True)
        for target in targets:
            group = [r for r in runs[target] if r["n"] == n]
            rows.append(summarize(group, args.p99_limit))
    drains: list[dict[str, Any]] = []
    if args.drain:
        n = args.drain_n or (max(ns) if ns else 4)
        print(f"-- drain under load: N={n}, SIGTERM to vc-1 half-way", flush=True)
        drains.append(
            await run_drain(
                _options(args, n), pg, drain_timeout_s=args.drain_timeout, new_calls=args.drain_new
            )
        )
    return {"rows": rows, "runs": runs, "drain": drains}


def _line(result: dict[str, Any]) -> str:
    calls = result["calls"]
    up, down = result["latency_up_ms"]["p99"], result["latency_down_ms"]["p99"]
    text = f"streaming {calls['streaming']}/{calls['admitted']}  p99 up {up} down {down} ms"
    if "db" in result:
        text += f"  DB {result['db']['commits_per_call']} commits, {result['db']['rows_per_call']}"
        text += " rows per call"
    return text


def report(args: argparse.Namespace, meta: dict[str, Any], data: dict[str, Any]) -> str:
    rows, drains = data["rows"], data["drain"]
    problems = [[f"{r['target']} N={r['n']}: {p}" for p in r["problems"]] for r in rows]
    drain_bad = [drain_problems(d) for d in drains]
    meta["problems"] = [p for group in problems for p in group] + [
        f"drain: {p}" for group in drain_bad for p in group
    ]
    pinning = (
        "unpinned (--no-pin)"
        if args.no_pin
        else "one instance on SQLite on core 0 with the load generator on core 1; two instances"
        " on PostgreSQL: vc-1 on core 0, vc-2 on core 1, the load generator and PostgreSQL "
        "unpinned (sharing both cores)"
    )
    parts = [
        f"Machine: {meta['machine']['cpu']} ({meta['machine']['cores']} cores), Python "
        f"{meta['machine']['python']}, PostgreSQL {meta.get('postgres', '?')} (throwaway "
        f"cluster, fsync and synchronous_commit off); date {meta['date']}; commit "
        f"{meta['commit']}{' (dirty tree)' if meta['dirty'] else ''}; {args.seconds:g} s "
        f"steady window, {args.repeat} run(s) per cell (medians, worst counts); pinning: "
        f"{pinning}; load average at start {meta['loadavg_start']}, at end "
        f"{meta['loadavg_end']}.",
    ]
    if rows:
        parts += [load_table(rows, args.p99_limit), verdict_text(verdict(rows))]
        parts.append(tables_text(rows))
    if drains:
        parts.append("Drain under load (SIGTERM to vc-1 half-way through the window):")
        parts.append(drain_table(drains, drain_bad))
    if meta["problems"]:
        parts.append("Problems:\n" + "\n".join(f"- {p}" for p in meta["problems"]))
    return "\n\n".join(p for p in parts if p)


async def _postgres_version(pg: PostgresServer) -> str:
    import asyncpg

    conn = await asyncpg.connect(pg.dsn)
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


async def bench(args: argparse.Namespace) -> int:
    started = dt.datetime.now(dt.UTC)
    meta = run_meta(started, vars(args))
    print(f"load average at start: {meta['loadavg_start']}", flush=True)
    async with throwaway_cluster() as pg:
        meta["postgres"] = await _postgres_version(pg)
        data = await measure(args, pg)
    meta["loadavg_end"] = loadavg()
    md = report(args, meta, data)
    print()
    print(md)
    if not args.no_write:
        folder = Path(args.out) if args.out else RESULTS
        stem = folder / f"{started.strftime('%Y%m%d-%H%M%S')}-{meta['commit']}-cluster"
        if args.smoke:
            stem = stem.with_name(stem.name + "-smoke")
        stem.parent.mkdir(parents=True, exist_ok=True)
        stem.with_suffix(".json").write_text(json.dumps({**meta, **data}, indent=1, default=str))
        stem.with_suffix(".md").write_text(md + "\n")
        print(f"\nwrote {stem}.json, {stem}.md")
    # A failure at a large N is a measurement (that N is not held); in the smoke, and in the
    # drain, any problem is a defect.
    failing = (
        meta["problems"] if args.smoke else [p for p in meta["problems"] if p.startswith("drain: ")]
    )
    if failing:
        print(f"\n{len(failing)} problem(s)", file=sys.stderr)
        return 1
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.cluster_run", description=__doc__)
    p.add_argument("--n", default="100,200,400", help="total concurrent calls, comma list")
    p.add_argument("--seconds", type=float, default=20.0, help="steady window per run")
    p.add_argument("--repeat", type=int, default=1, help="runs per cell (medians)")
    p.add_argument(
        "--targets",
        default="single,cluster",
        help="comma list: single (one instance on SQLite), cluster (two on PostgreSQL)",
    )
    p.add_argument(
        "--p99-limit",
        type=float,
        default=20.0,
        help="a target holds N when no call failed and both directions' p99 ≤ this, ms",
    )
    p.add_argument("--drain", action="store_true", help="also the drain under load")
    p.add_argument("--drain-n", type=int, default=0, help="drain: total calls (default: max N)")
    p.add_argument("--drain-new", type=int, default=None, help="drain: calls placed meanwhile")
    p.add_argument("--drain-timeout", type=float, default=120.0, help="drain: drainTimeoutSeconds")
    p.add_argument("--ramp", type=float, default=100.0, help="calls admitted per second")
    p.add_argument("--barge-every", type=float, default=5.0, help="s per call; 0: off")
    p.add_argument("--stop-only", action="store_true", help="end every call with `stop`")
    p.add_argument("--no-pin", action="store_true", help="do not pin (machines with one core)")
    p.add_argument("--no-write", action="store_true", help="print only")
    p.add_argument("--out", default=None, help="where to write (default benchmarks/results)")
    p.add_argument("--smoke", action="store_true", help="N=4, 5 s, both targets, drain of 4 calls")
    return p


def smoke_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The arguments, with `--smoke`'s values put in."""
    args = parser().parse_args(argv)
    if args.smoke:
        args.n, args.seconds, args.repeat, args.targets = "4", 5.0, 1, "single,cluster"
        args.drain, args.drain_n, args.drain_new, args.barge_every = True, 4, 2, 1.0
        args.no_write = args.no_write or args.out is None
    return args


def main(argv: list[str] | None = None) -> int:
    args = smoke_args(argv)
    if importlib.util.find_spec("uvloop") is not None:
        import uvloop  # the load generator's loop, as benchmarks.run uses

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return asyncio.run(bench(args))


if __name__ == "__main__":
    sys.exit(main())
