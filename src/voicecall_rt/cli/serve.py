"""The commands that run a server in the foreground: `serve` (webhooks and media streams)
and `mcp` (the MCP tools on stdio)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Annotated, Any

import typer

from voicecall_rt import __version__
from voicecall_rt.cli.shared import EXIT_CONFIG, ConfigOption, err, fail, settings_from
from voicecall_rt.config import ConfigError, Settings
from voicecall_rt.logs import LogFormat, settings_secrets, setup_logging
from voicecall_rt.model import catalog
from voicecall_rt.model.catalog import ShutdownNotice
from voicecall_rt.public_url import PublicUrlError, check_public_dns
from voicecall_rt.render import print_model_notices

if TYPE_CHECKING:
    from voicecall_rt.web.app import Server


def serve(
    config: ConfigOption = None,
    log_format: Annotated[
        LogFormat,
        typer.Option(
            "--log-format", help="Log lines for people (text) or one JSON object a line (json)."
        ),
    ] = "text",
) -> None:
    """Run the webhook and media-stream server in the foreground.

    Ctrl-C or SIGTERM drains it: no new call, live calls go on (up to
    server.drainTimeoutSeconds, then each says goodbye and is hung up), then it exits. A
    second signal stops it at once, ending live calls.
    """
    settings = settings_from(config)
    setup_logging(settings.debug, log_format, settings_secrets(settings))
    try:
        settings.require_for_calls()
    except ConfigError as exc:
        fail(f"{exc} (run `voicecall-rt init` for a template)", EXIT_CONFIG)
    notices = catalog.log_shutdown_notices(settings)
    run_fast(_serve(settings, log_format, notices))


def run_fast(main: Coroutine[Any, Any, None]) -> None:
    """Run the server on uvloop where it is installed: the benchmark measured 10–20 % less
    CPU per relayed frame and a lower p99 (benchmarks/README.md); plain asyncio otherwise."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
        return
    uvloop.run(main)


async def _serve(
    settings: Settings, log_format: LogFormat = "text", notices: list[ShutdownNotice] | None = None
) -> None:
    from voicecall_rt.web.app import Server

    assert settings.public_url is not None
    try:
        await check_public_dns(settings.public_url)
    except PublicUrlError as exc:
        fail(f"publicUrl: {exc}", EXIT_CONFIG)
    server = Server(settings)
    try:
        await server.start()
    except OSError as exc:
        fail(f"cannot listen on {settings.server.bind}:{settings.server.port}: {exc.strerror}")
    signals = _Signals()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, signals.received)
    # With JSON logs, stderr stays one JSON object a line.
    say = err.print if log_format == "text" else logging.getLogger("voicecall_rt.cli").info
    say(
        f"voicecall-rt {__version__} listening on {server.local_url}"
        " (Ctrl-C to drain and stop, twice to stop at once)"
    )
    if log_format == "text":  # JSON: the log has them, and stderr stays JSON lines
        print_model_notices(notices or [], err)
    try:
        await signals.first.wait()
        await _drain(server, settings.server.drain_timeout_seconds, signals, say)
    finally:
        say("stopping: ending live calls…")
        await server.stop()


class _Signals:
    """SIGINT/SIGTERM: the first drains, the second stops at once."""

    def __init__(self) -> None:
        self.first = asyncio.Event()
        self.second = asyncio.Event()

    def received(self) -> None:
        (self.second if self.first.is_set() else self.first).set()


async def _drain(
    server: Server, timeout_s: float, signals: _Signals, say: Callable[[str], None]
) -> None:
    """Take no new call, and wait for the live ones (drain.py) unless a second signal comes."""
    from voicecall_rt.call.drain import begin_drain, drain

    live = begin_drain(server.manager)
    say(
        f"draining: taking no new calls; {live} live call(s) may go on for up to"
        f" {timeout_s:g}s, then say goodbye (signal again to stop at once)"
    )
    drained = asyncio.create_task(drain(server.manager, timeout_s), name="drain")
    forced = asyncio.create_task(signals.second.wait(), name="second-signal")
    try:
        await asyncio.wait({drained, forced}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (drained, forced):
            task.cancel()  # a no-op on the one that finished
            with contextlib.suppress(asyncio.CancelledError):
                await task  # a failure of the drain itself still surfaces
    if signals.second.is_set():
        say("second signal: stopping at once")


def mcp(config: ConfigOption = None) -> None:
    """Run the MCP server on stdio (tools: make_phone_call, get_call, list_calls, hang_up).

    It talks to the running `voicecall-rt serve` through the local API.
    """
    from voicecall_rt.mcp_server import serve_stdio

    settings = settings_from(config)
    asyncio.run(serve_stdio(settings))
