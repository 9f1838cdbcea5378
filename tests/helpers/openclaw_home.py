"""A throwaway OpenClaw installation for a test: its own HOME, state directory and config
file (`OPENCLAW_STATE_DIR`, `OPENCLAW_CONFIG_PATH`), the real `openclaw` CLI from the
plugin's dependencies, and its gateway run as a child process."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from tests.helpers.openclaw_plugin import Plugin, Ran, kill_group, run

ANSI = re.compile(r"\x1b\[[0-9;]*m")
GATEWAY_TOKEN = "gateway-test-token-0123456789abcdef"  # this test gateway's own
# The gateway logs this line once it serves requests and its plugins' services started.
READY = re.compile(r"\[gateway\] ready$")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Gateway:
    url: str
    token: str
    log: list[str]


class OpenClawHome:
    def __init__(self, plugin: Plugin, root: Path, **env: str) -> None:
        self.plugin = plugin
        self.state = root / "state"
        home = root / "home"
        self.state.mkdir(parents=True)
        home.mkdir()
        self.config = self.state / "openclaw.json"
        self.env = plugin.env(
            HOME=str(home),
            OPENCLAW_STATE_DIR=str(self.state),
            OPENCLAW_CONFIG_PATH=str(self.config),
            **env,
        )

    async def openclaw(self, *args: str | Path, timeout_s: float = 100) -> Ran:
        return await run(
            self.plugin,
            self.plugin.bin("openclaw"),
            *args,
            env=self.env,
            timeout_s=timeout_s,
            cwd=self.state,
        )

    @contextlib.asynccontextmanager
    async def gateway(self, ready_s: float = 90) -> AsyncIterator[Gateway]:
        """`openclaw gateway run` on a free loopback port with token auth, until it is ready;
        stopped (SIGTERM, then SIGKILL) on the way out."""
        port = free_port()
        process = await asyncio.create_subprocess_exec(
            str(self.plugin.node),
            str(self.plugin.bin("openclaw")),
            "gateway",
            "run",
            "--allow-unconfigured",
            "--bind",
            "loopback",
            "--port",
            str(port),
            "--auth",
            "token",
            "--token",
            GATEWAY_TOKEN,
            cwd=self.state,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # the gateway and the helpers it starts, stopped together
        )
        assert process.stdout is not None
        stdout = process.stdout
        log: list[str] = []
        ready = asyncio.Event()

        async def read() -> None:
            while raw := await stdout.readline():
                line = ANSI.sub("", raw.decode(errors="replace").rstrip())
                log.append(line)
                if READY.search(line):
                    ready.set()

        reader = asyncio.create_task(read())
        readied = asyncio.create_task(ready.wait())
        try:
            await asyncio.wait([readied, reader], timeout=ready_s, return_when="FIRST_COMPLETED")
            readied.cancel()
            assert ready.is_set(), "the gateway did not get ready:\n" + "\n".join(log)
            yield Gateway(url=f"http://127.0.0.1:{port}", token=GATEWAY_TOKEN, log=log)
        finally:
            kill_group(process.pid, signal.SIGTERM)
            try:
                async with asyncio.timeout(30):
                    await process.wait()
            except TimeoutError:
                kill_group(process.pid, signal.SIGKILL)
                await process.wait()
            kill_group(process.pid, signal.SIGKILL)  # whatever it left behind
            await reader
