"""The server process seen from outside: CPU time, RSS, file descriptors, model sockets.

psutil when it is installed (the `bench` extra); otherwise Linux's /proc directly, so the
CI smoke (which installs only `.[dev]`) measures the same leftovers without it.
"""

from __future__ import annotations

import os
from pathlib import Path

# A flag rather than `psutil = None`, which mypy refuses where psutil is installed (a module).
try:
    import psutil
except ImportError:  # pragma: no cover - depends on the extras installed
    HAVE_PSUTIL = False
else:
    HAVE_PSUTIL = True


class ProcStat:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._proc = psutil.Process(pid) if HAVE_PSUTIL else None
        self.backend = "psutil" if HAVE_PSUTIL else "/proc"

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process so far."""
        if self._proc is not None:
            t = self._proc.cpu_times()
            return float(t.user + t.system)
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime

    def rss_bytes(self) -> int:
        if self._proc is not None:
            return int(self._proc.memory_info().rss)
        pages = int(Path(f"/proc/{self.pid}/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")

    def num_fds(self) -> int:
        if self._proc is not None:
            return int(self._proc.num_fds())
        return sum(1 for _ in Path(f"/proc/{self.pid}/fd").iterdir())

    def num_threads(self) -> int:
        if self._proc is not None:
            return int(self._proc.num_threads())
        return sum(1 for _ in Path(f"/proc/{self.pid}/task").iterdir())

    def sockets_to_port(self, port: int) -> int:
        """TCP connections of the process whose remote port is `port` (any state)."""
        if self._proc is not None:
            return sum(
                1
                for c in self._proc.net_connections(kind="tcp")
                if c.raddr and c.raddr.port == port
            )
        inodes = set()
        for fd in Path(f"/proc/{self.pid}/fd").iterdir():
            try:
                link = str(fd.readlink())
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
        count = 0
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                lines = Path(table).read_text().splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                parts = line.split()
                remote_port = int(parts[2].rsplit(":", 1)[1], 16)
                if remote_port == port and parts[9] in inodes:
                    count += 1
        return count


def self_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system
