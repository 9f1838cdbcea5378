"""A benchmark target in its own process: our real server, or a bare relay.

    python -m benchmarks.target --kind ours|bare|bare-aiohttp|bare-picows|bare-starlette
        --model-url ws://... --data-dir D [--carrier twilio|telnyx|plivo|signalwire]
        [--cpu C] [--loop uvloop] [--no-connector-limit]
        [--store-url postgresql://... --instance-id I --public-url U] [--drain-timeout S]

Pins itself to `--cpu`, starts, prints one JSON line `{"port": P}` on stdout and serves
until SIGTERM (or stdin closes). Our server runs exactly as `voicecall-rt serve` would
(same `Server`, same logging set-up, the default asyncio loop unless `--loop uvloop`),
only its outside URLs point at the fake parties.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import threading
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from benchmarks.sides import CARRIERS, side
from benchmarks.sim_account import API_KEY, FROM_NUMBER, PUBLIC_URL

# `bare`: bare_relay.py (websockets), the yardstick; `bare-*`: bare_stacks.py
KINDS = ("ours", "bare", "bare-aiohttp", "bare-picows", "bare-starlette", "bare-aiohttp-picows")


async def _until_stopped() -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if os.environ.get("VCRT_BENCH_GC"):  # leak hunting: SIGUSR1 → a full collection first
        import gc

        loop.add_signal_handler(signal.SIGUSR1, gc.collect)
    snapshots = os.environ.get("VCRT_BENCH_TRACEMALLOC")  # leak hunting: SIGUSR1 → snapshot
    if snapshots:
        import tracemalloc

        count = iter(range(1_000_000))
        loop.add_signal_handler(
            signal.SIGUSR1,
            lambda: tracemalloc.take_snapshot().dump(f"{snapshots}.{next(count)}"),
        )

    def stdin_closed() -> None:  # the load generator died: do not outlive it
        with contextlib.suppress(OSError):
            while os.read(0, 4096):  # unbuffered: no lock left behind at shutdown
                pass
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=stdin_closed, daemon=True).start()
    await stop.wait()


async def _ours(args: argparse.Namespace) -> None:
    from voicecall_rt.config import Settings
    from voicecall_rt.logs import settings_secrets, setup_logging
    from voicecall_rt.simulator.world import tunnel_resolver
    from voicecall_rt.web.app import Server

    raw: dict[str, Any] = {
        # the carrier and its section; its REST API is the fake model's stand-in
        **side(args.carrier).server_section(args.rest_url),
        "fromNumber": FROM_NUMBER,
        "openai": {"apiKey": API_KEY, "realtimeUrl": args.model_url},
        "publicUrl": args.public_url or PUBLIC_URL,  # each instance of a cluster its own
        "server": {"port": 0, "bind": "127.0.0.1"},
        "dataDir": args.data_dir,
        "calls": {"maxConcurrent": args.max_calls, "maxDurationSeconds": 14400},
        "inbound": {"enabled": True, "policy": "open"},
    }
    if args.store_url:  # one of several instances on one PostgreSQL (cluster_run.py)
        raw["store"] = {"url": args.store_url}
        raw["server"]["instanceId"] = args.instance_id
    if args.drain_timeout is not None:
        raw["server"]["drainTimeoutSeconds"] = args.drain_timeout
    settings = Settings.model_validate(raw)
    if args.no_prewarm:
        _connect_model_at_stream_start()
    setup_logging(settings.debug, "text", settings_secrets(settings))  # as `serve` does
    server = Server(settings, resolver=tunnel_resolver)
    if args.no_connector_limit:
        # Measurement-only workaround, labelled `+nolimit` in reports: the server's one
        # aiohttp ClientSession (default connector: at most 100 connections) also carries
        # the model WebSockets, so call 101 waits for a free connection and fails. Sessions
        # created during start() get an unlimited connector; src is untouched.
        import aiohttp

        original = aiohttp.ClientSession

        def unlimited(*a: Any, **kw: Any) -> aiohttp.ClientSession:
            kw.setdefault("connector", aiohttp.TCPConnector(limit=0))
            return original(*a, **kw)

        aiohttp.ClientSession = unlimited  # type: ignore[misc,assignment]
        try:
            await server.start()
        finally:
            aiohttp.ClientSession = original  # type: ignore[misc]
    else:
        await server.start()
    print(f'{{"port": {server.port}}}', flush=True)
    try:
        await _until_stopped()
        if args.drain_timeout is not None:
            await _drain_as_serve_does(server, args.drain_timeout)
    finally:
        await server.stop()


async def _drain_as_serve_does(server: Any, timeout_s: float) -> None:
    """The first signal has come: drain as `serve` does (no new call, live calls go on up
    to `timeout_s`), unless a second signal stops it at once."""
    import logging

    from voicecall_rt.cli.serve import _drain, _Signals

    signals = _Signals()
    signals.received()  # the one `_until_stopped` took
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, signals.received)  # replaces the first handler
    await _drain(server, timeout_s, signals, logging.getLogger("benchmarks.target").info)


def _connect_model_at_stream_start() -> None:
    """Measurement-only, labelled `+noprewarm`: the model is connected when the stream
    starts instead of while the phone rings (at the answer webhook, for an inbound call),
    to show what pre-warm is worth. src has no such setting: pre-warm is always on."""
    from voicecall_rt.call.bridge import CallBridge

    start_model, run_carrier = CallBridge.start_model, CallBridge.run_carrier

    async def run_carrier_after_connect(self: CallBridge, *args: Any) -> None:
        start_model(self)
        await run_carrier(self, *args)

    CallBridge.start_model = lambda self: None  # type: ignore[method-assign]
    CallBridge.run_carrier = run_carrier_after_connect  # type: ignore[method-assign,assignment]


async def _bare(args: argparse.Namespace) -> None:
    from benchmarks import bare_relay

    serve: Callable[[str, int, str, str], AbstractAsyncContextManager[int]] = bare_relay.serve
    if args.kind != "bare":  # the same relay on another server stack (bare_stacks.py)
        from benchmarks.bare_stacks import STACKS

        serve = STACKS[args.kind]
    async with serve("127.0.0.1", 0, args.model_url, API_KEY) as port:
        print(f'{{"port": {port}}}', flush=True)
        await _until_stopped()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kind", choices=KINDS, required=True)
    parser.add_argument("--model-url", required=True)
    parser.add_argument("--rest-url", default="http://127.0.0.1:9")
    parser.add_argument("--carrier", choices=CARRIERS, default="twilio")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--max-calls", type=int, default=1000)
    parser.add_argument("--cpu", type=int, default=None)
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument("--no-connector-limit", action="store_true")
    parser.add_argument("--no-prewarm", action="store_true")
    # ours as one of several instances on one PostgreSQL (benchmarks/cluster_run.py)
    parser.add_argument("--store-url", default=None)
    parser.add_argument("--instance-id", default=None)
    parser.add_argument("--public-url", default=None)
    # SIGTERM drains as `serve` does, live calls going on up to this long (unset: stop)
    parser.add_argument("--drain-timeout", type=float, default=None)
    # aiofastnet's transports under the loop's sockets (`aiofastnet.patch_loop`)
    parser.add_argument("--fastnet", action="store_true")
    args = parser.parse_args()
    if args.loop == "uvloop":  # what the server would get from `uvloop.install()` at start
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    if os.environ.get("VCRT_BENCH_TRACEMALLOC"):
        import tracemalloc

        tracemalloc.start(12)
    Path(args.data_dir).mkdir(parents=True, exist_ok=True, mode=0o700)
    main = _ours(args) if args.kind == "ours" else _bare(args)
    if args.fastnet:
        import aiofastnet

        with asyncio.Runner(loop_factory=aiofastnet.loop_factory(asyncio.new_event_loop)) as r:
            r.run(main)
    else:
        asyncio.run(main)


if __name__ == "__main__":
    main()
