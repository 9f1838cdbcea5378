"""The heading facts of a benchmark report (`run_meta`), for `benchmarks.run` and
`benchmarks.cluster_run` alike."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from benchmarks.target_process import REPO


def _git(*args: str) -> str:
    try:
        out = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip()


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    names = ("aiohttp", "orjson", "websockets", "psutil", "uvloop", "picows", "aiofastnet")
    for name in (*names, "starlette", "uvicorn"):
        try:
            from importlib.metadata import version

            versions[name] = version(name)
        except Exception:  # noqa: BLE001 - a missing package is just not listed
            continue
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
    }


def loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def run_meta(started: dt.datetime, options: dict[str, Any]) -> dict[str, Any]:
    """What a report records of its sitting: when, at which commit, on what machine, how
    loaded it was at the start, the generator's loop and the options."""
    return {
        "date": started.isoformat(timespec="seconds"),
        "commit": _git("rev-parse", "--short=10", "HEAD") or "unknown",
        "dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "machine": machine(),
        "loadavg_start": loadavg(),
        "loadgen_loop": type(asyncio.get_running_loop()).__module__.split(".")[0],
        "options": options,
    }
