"""Summarise a py-spy `--format raw` profile (collapsed stacks): where the time goes.

    python -m benchmarks.profile_summary benchmarks/results/profile-<commit>-n100.txt

Prints the share of samples per leaf function (self time) and per function anywhere on
the stack (inclusive time), and the share per package for the leaves.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

# Leaves where a thread blocks waiting for work: idle, whatever the sampler says (py-spy's
# idle detection is unreliable in a VM).
_WAITS = (
    "Selector.select",  # the event loop waiting in epoll
    "aiosqlite/core.py:_connection_worker_thread",  # the SQLite thread waiting on its queue
    "concurrent/futures/thread.py:_worker",  # executor threads waiting for work
    "stdin_closed",  # benchmarks/target.py watching its parent
)
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^)]*?)(?::(?P<line>\d+))?\)$")


def _name(frame: str) -> tuple[str, str]:
    """`func (path:line)` → ("path:func", package: the path's first component)."""
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip(), "?"
    path = m.group("file")
    for marker in ("site-packages/", "/lib/python3.11/", "/src/", "/work/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    package = path.split("/", 1)[0].removesuffix(".py")
    return f"{path}:{m.group('func')}", package


def summarize(path: Path, top: int = 25) -> str:
    leaf: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    total = idle = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [f for f in stack.split(";") if f and not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        name, package = _name(frames[-1])
        if name.endswith(_WAITS):
            idle += n
            continue
        leaf[name] += n
        packages[package] += n
        for seen in {_name(f)[0] for f in frames}:
            inclusive[seen] += n
    busy = total - idle
    if not busy:
        return "no busy samples"
    out = [
        f"{total} samples: {idle} idle (epoll wait, threads waiting for work), {busy} busy;"
        " shares below are of the busy samples",
        "",
        "self time by package:",
    ]
    out += [f"  {100 * n / busy:5.1f} %  {k}" for k, n in packages.most_common(12)]
    out += ["", "self time by function:"]
    out += [f"  {100 * n / busy:5.1f} %  {k}" for k, n in leaf.most_common(top)]
    out += ["", "inclusive time by function (frames on nearly every stack left out):"]
    shown = [(k, n) for k, n in inclusive.most_common() if n < 0.97 * busy][:top]
    out += [f"  {100 * n / busy:5.1f} %  {k}" for k, n in shown]
    return "\n".join(out)


if __name__ == "__main__":
    print(summarize(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 25))
