"""The server under test in a process of its own, and the cores it and the generator use.

`Target` runs `python -m benchmarks.target` pinned to one core and stops it; `pick_cpus`
gives that core and another one for the load generator, so the server's CPU is read from
outside with nothing else on its core and the generator never takes time from it.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from benchmarks.fake_model import FakeModel

REPO = Path(__file__).resolve().parent.parent


class Target:
    """`python -m benchmarks.target` in its own process, pinned to one core."""

    def __init__(
        self,
        kind: str,
        fake: FakeModel,
        *,
        max_calls: int,
        cpu: int | None,
        carrier: str = "twilio",
        extra_args: Sequence[str] = (),
    ) -> None:
        self.kind = kind
        self.carrier = carrier  # ours: the carrier it is configured for
        self.fake = fake
        self.max_calls = max_calls
        self.cpu = cpu
        self.extra_args = tuple(extra_args)  # more of target.py's options (a cluster's)
        self.proc: asyncio.subprocess.Process | None = None
        self.port = 0
        self.data_dir = Path(tempfile.mkdtemp(prefix=f"vcrt-bench-{kind.replace('+', '-')}-"))
        self.log_path = self.data_dir / "server.log"

    async def start(self) -> None:
        kind, *flags = self.kind.split("+")
        args = [
            sys.executable,
            "-m",
            "benchmarks.target",
            "--kind",
            kind,
            "--model-url",
            self.fake.url,
            "--rest-url",
            self.fake.rest_url,
            "--data-dir",
            str(self.data_dir / "data"),
            "--max-calls",
            str(self.max_calls),
            "--carrier",
            self.carrier,
        ]
        args += self.extra_args
        if self.cpu is not None:
            args += ["--cpu", str(self.cpu)]
        if "uvloop" in flags:
            args += ["--loop", "uvloop"]
        if "fastnet" in flags:
            args += ["--fastnet"]
        if "noprewarm" in flags:
            args += ["--no-prewarm"]
        if "nolimit" in flags:
            args += ["--no-connector-limit"]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
        with self.log_path.open("wb") as log:
            self.proc = await asyncio.create_subprocess_exec(
                *args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env, cwd=REPO
            )
        assert self.proc.stdout is not None
        try:
            line = await asyncio.wait_for(self.proc.stdout.readline(), 30)
        except TimeoutError:
            line = b""
        if not line:
            raise RuntimeError(f"target {self.kind} did not start: {self.log_tail()}")
        self.port = int(json.loads(line)["port"])

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def stop(self) -> int | None:
        proc = self.proc
        if proc is None:
            return None
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if proc.stdin is not None:
            proc.stdin.close()
        return proc.returncode


def pick_cpus() -> tuple[int | None, int | None]:
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    return cpus[0], cpus[1]
