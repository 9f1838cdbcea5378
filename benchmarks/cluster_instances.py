"""Several instances of our server on one PostgreSQL, as the cluster benchmark runs them,
and the calls the load generator spreads over them.

Each instance is `python -m benchmarks.target` (our real `Server`, on uvloop as `serve`
runs it) with `store.url` on the run's database, `server.instanceId` `vc-<k>`, a public
host of its own (`cluster_side.py`) and the global `calls.maxConcurrent`, pinned to a core
of its own when asked. The load generator places each instance's share of the calls
through that instance's host, as a load balancer in front of the instances would.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp

from benchmarks.caller import Caller
from benchmarks.calls import RunOptions, place_calls
from benchmarks.cluster_side import InstanceOptions, instance_url
from benchmarks.fake_model import FakeModel
from benchmarks.procstat import ProcStat
from benchmarks.recorder import Call, Recorder
from benchmarks.target_process import Target

KIND = "ours+uvloop"  # our server as `serve` runs it


@dataclass
class Instance:
    """One running instance and the calls it took."""

    number: int
    target: Target
    opts: InstanceOptions
    stat: ProcStat
    calls: list[Call] = field(default_factory=list)
    callers: list[Caller | None] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"vc-{self.number}"

    @property
    def port(self) -> int:
        return self.target.port


async def start_instances(
    fake: FakeModel,
    store_url: str | None,
    opts: RunOptions,
    cpus: list[int | None],
    *,
    max_calls: int,
    drain_timeout_s: float | None = None,
) -> list[Instance]:
    """One instance per entry of `cpus` (None: unpinned), started one after another (the
    first migrates the database; the others find it ready). Stop them with `stop_all`."""
    instances: list[Instance] = []
    targets: list[Target] = []
    try:
        for number, cpu in enumerate(cpus, start=1):
            public_url = instance_url(number)
            extra = ["--public-url", public_url]
            if store_url is not None:  # else SQLite, in the target's own data directory
                extra += ["--store-url", store_url, "--instance-id", f"vc-{number}"]
            if drain_timeout_s is not None:
                extra += ["--drain-timeout", str(drain_timeout_s)]
            target = Target(
                KIND, fake, max_calls=max_calls, cpu=cpu, carrier="twilio", extra_args=extra
            )
            targets.append(target)  # before start: one that fails to start is stopped too
            await target.start()
            inst_opts = InstanceOptions(**_fields(opts), public_url=public_url)
            instances.append(Instance(number, target, inst_opts, ProcStat(target.pid)))
    except BaseException:
        await asyncio.gather(*(t.stop() for t in targets))
        raise
    return instances


def _fields(opts: RunOptions) -> dict[str, Any]:
    return {name: getattr(opts, name) for name in RunOptions.__dataclass_fields__}


async def stop_all(instances: list[Instance]) -> dict[str, int | None]:
    """SIGTERM every instance still running; each one's exit code."""
    codes = await asyncio.gather(*(inst.target.stop() for inst in instances))
    return {inst.name: code for inst, code in zip(instances, codes, strict=True)}


def shares(total: int, parts: int) -> list[int]:
    """`total` calls spread as evenly as can be over `parts` instances."""
    return [total // parts + (1 if k < total % parts else 0) for k in range(parts)]


async def place_spread(
    rec: Recorder,
    instances: list[Instance],
    counts: list[int],
    first_index: int,
    http: aiohttp.ClientSession,
) -> list[Call]:
    """Place `counts[k]` calls on instance k, all instances at once, at the run's admission
    rate in total; the calls placed, in index order."""
    total = sum(counts)
    placed: list[Call] = []
    jobs = []
    index = first_index
    for inst, count in zip(instances, counts, strict=True):
        if not count:
            continue
        # each instance's share of the admission rate, so the total stays the run's
        rate = inst.opts.ramp_per_s * count / total if inst.opts.ramp_per_s > 0 else 0.0
        jobs.append((inst, index, count, replace(inst.opts, ramp_per_s=rate)))
        index += count
    results = await asyncio.gather(
        *(place_calls(rec, o, inst.port, first, count, http) for inst, first, count, o in jobs)
    )
    for (inst, first, count, _), callers in zip(jobs, results, strict=True):
        calls = [rec.calls[first + i] for i in range(count)]
        inst.calls += calls
        inst.callers += callers
        placed += calls
    return sorted(placed, key=lambda c: c.index)


def streaming(call: Call) -> bool:
    """The call is up both ways: admitted, and the model's audio reaches the caller."""
    return call.error is None and call.down.received > 0
