"""Placing the calls of a run and ending them.

A run's options (`RunOptions`); each call admitted as its carrier would place it (the
carrier's signed webhook(s) for our server, `benchmarks/sides/`, then the media stream a
moment later) at a set rate; and
the hang-up by `stop`, a dropped connection or the model's end. The steady run, the leak
run and the renewal probe all share this: they differ only in what they measure while the
calls are up.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks import wsraw
from benchmarks.caller import Caller
from benchmarks.recorder import Call, Recorder
from benchmarks.sides import CarrierSide, side


@dataclass
class RunOptions:
    # "ours", "bare" or a bare relay on another stack ("bare-aiohttp", "bare-picows",
    # "bare-starlette"), with flags: "+uvloop" (the target's event loop), "+nolimit" (ours:
    # no connection limit on the server's HTTP client; see target.py)
    kind: str
    n: int
    seconds: float
    ramp_per_s: float = 100.0  # calls admitted per second
    answer_gap_s: float = 0.2  # call answered → stream opened (Twilio takes ~100-300 ms)
    barge_every_s: float = 5.0  # 0: no barge-in
    settle_s: float = 1.0  # after the last call starts, before the window opens
    pin: bool = True
    server_cpu: int | None = None
    loadgen_cpu: int | None = None
    warmup: bool = True
    profile: Path | None = None  # py-spy the server during the window, write here
    # end the calls in turn by `stop`, by dropping the carrier connection, and from the
    # model side (leftovers must be zero whatever ended a call)
    mixed_endings: bool = False
    leftover_timeout_s: float = 10.0
    # the carrier the load generator plays (`benchmarks/sides/`); the bare relays have no
    # carrier seam and always get Twilio's wire format
    carrier: str = "twilio"

    @property
    def side(self) -> CarrierSide:
        return side(self.carrier if self.kind.startswith("ours") else "twilio")


async def _admit(
    call: Call,
    rec: Recorder,
    opts: RunOptions,
    port: int,
    http: aiohttp.ClientSession | None,
) -> Caller | None:
    carrier = opts.side
    carrier.name_call(call)
    try:
        if opts.kind.startswith("ours"):
            assert http is not None
            error = await carrier.admit(http, port, call, rec.rest)
            if error is not None:
                call.error = error
                return None
        await asyncio.sleep(opts.answer_gap_s)  # the carrier opening the stream
        stream = carrier.stream(call)
        caller = await wsraw.connect(
            lambda: Caller(call, rec, stream), "127.0.0.1", port, "/voice/realtime-stream"
        )
        assert isinstance(caller, Caller)
        call.caller = caller
        return caller
    except (OSError, ConnectionError, TimeoutError, aiohttp.ClientError) as exc:
        call.error = f"{type(exc).__name__}: {exc}"
        return None


async def wait_until(pred: Any, timeout_s: float, step: float = 0.05) -> float | None:
    """Poll `pred()` until true; seconds it took, or None on timeout."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while True:
        if pred():
            return loop.time() - start
        if loop.time() - start >= timeout_s:
            return None
        await asyncio.sleep(step)


async def place_calls(
    rec: Recorder,
    opts: RunOptions,
    port: int,
    first_index: int,
    n: int,
    http: aiohttp.ClientSession | None,
) -> list[Caller | None]:
    interval = 1.0 / opts.ramp_per_s if opts.ramp_per_s > 0 else 0.0
    tasks = []
    for i in range(n):
        call = Call(first_index + i)
        rec.calls[call.index] = call
        tasks.append(asyncio.create_task(_admit(call, rec, opts, port, http)))
        if interval:
            await asyncio.sleep(interval)
    return list(await asyncio.gather(*tasks))


ENDINGS = ("stop", "drop", "model")


def ending(call: Call, mixed: bool) -> str:
    """How this call ends: always `stop`, or in turn each way a call can end."""
    return ENDINGS[call.index % len(ENDINGS)] if mixed else "stop"


async def hang_up_all(callers: list[Caller | None], mixed: bool = False) -> None:
    await asyncio.gather(*(c.hang_up(how=ending(c.call, mixed)) for c in callers if c is not None))
