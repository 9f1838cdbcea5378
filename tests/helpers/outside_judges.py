"""Outside tools as judges (sox, multimon-ng, PostgreSQL): the rule for a missing one, and what
multimon-ng decodes of keypad tones (tests/unit/test_dtmf.py, the whole calls' keys)."""

from __future__ import annotations

import os
import shutil
import subprocess
from array import array
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import pytest

from voicecall_rt.audio import g711


def missing_tool(what: str, where: str = "on PATH") -> NoReturn:
    """An outside tool is missing: skip locally, fail in CI (VOICECALL_RT_REQUIRE_TOOLS=1)
    so the outside check cannot silently vanish."""
    if os.environ.get("VOICECALL_RT_REQUIRE_TOOLS") == "1":
        pytest.fail(f"{what} is required (VOICECALL_RT_REQUIRE_TOOLS=1) but not {where}")
    pytest.skip(f"{what} not installed")


def require_tool(name: str) -> str:
    """Path to an external judge on PATH (see `missing_tool` for a missing one)."""
    path = shutil.which(name)
    if path is None:
        missing_tool(name)
    return path


def resample_linear(samples: Sequence[int], src: int, dst: int) -> array[int]:
    """Linear interpolation is plenty here: the highest tone (1633 Hz) is far below both
    Nyquist limits, and the images it leaves sit above 6 kHz, away from every DTMF filter."""
    out = array("h")
    last = len(samples) - 1
    for i in range(len(samples) * dst // src):
        pos = i * src / dst
        j = int(pos)
        nxt = samples[min(j + 1, last)]
        out.append(round(samples[j] + (nxt - samples[j]) * (pos - j)))
    return out


def multimon_keys(exe: str, kind: str, path: Path) -> str:
    """multimon-ng's DTMF decoder over a file of `kind` (raw, wav): the keys, in order."""
    result = subprocess.run(
        [exe, "-q", "-c", "-a", "DTMF", "-t", kind, str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return "".join(
        line.removeprefix("DTMF: ").strip()
        for line in result.stdout.splitlines()
        if line.startswith("DTMF: ")
    )


def multimon_digits(exe: str, ulaw: bytes, tmp_path: Path) -> str:
    """The keys multimon-ng hears in 8 kHz µ-law audio, in order."""
    # multimon-ng's raw input is native-endian int16 at 22050 Hz; anything else goes via sox.
    pcm = resample_linear(g711.decode(ulaw), 8000, 22050)
    raw = tmp_path / "tones.raw"
    raw.write_bytes(pcm.tobytes())
    return multimon_keys(exe, "raw", raw)
