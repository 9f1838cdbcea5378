"""Running the `voicecall-rt` console script as a real child process, from a test's event loop.

The CLI talks to our real server over loopback while the world keeps running on the test's
event loop: hence `asyncio.create_subprocess_exec`, never a blocking `subprocess.run`.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

from voicecall_rt.simulator.world import SimWorld


def cli_command() -> list[str]:
    """The installed console script, or the module run by this interpreter."""
    script = Path(sys.executable).with_name("voicecall-rt")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from voicecall_rt.cli import main; main()"]


def cli_env() -> dict[str, str]:
    """This environment without credentials or a config path, and with plain output."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in ("VOICECALL_RT_CONFIG", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "OPENAI_API_KEY")
    }
    env.pop("FORCE_COLOR", None)
    env.update({"NO_COLOR": "1", "COLUMNS": "240", "TERM": "dumb"})
    return env


async def cli(*args: str, config: Path) -> tuple[int, str, str]:
    """Run `voicecall-rt ARGS --config CONFIG`; (exit code, stdout, stderr)."""
    process = await asyncio.create_subprocess_exec(
        *cli_command(),
        *args,
        "--config",
        str(config),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=cli_env(),
    )
    try:
        async with asyncio.timeout(60):
            out, err = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def write_config(path: Path, data_dir: Path, port: int) -> Path:
    path.write_text(f'dataDir = "{data_dir}"\n\n[server]\nport = {port}\n', encoding="utf-8")
    return path


def world_config(world: SimWorld, tmp_path: Path) -> Path:
    return write_config(tmp_path / "cli.toml", world.server.settings.data_dir, world.server.port)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected a one-line reason, got {text!r}"
    return lines[0]
