"""A throwaway PostgreSQL cluster for a test session, from the machine's own binaries
(Debian's `postgresql` package, which `.ci/run` installs).

One cluster per pytest process (each xdist worker starts its own): initdb into a temporary
directory, a postmaster on 127.0.0.1 and a free port, durability off (`fsync`,
`synchronous_commit`, `full_page_writes`: a crash of a test cluster loses nothing we keep),
trust authentication (the server listens on loopback only; its Unix socket sits in the
cluster's own directory, mode 0700), and each test gets a fresh empty database of its own.

PostgreSQL's tools refuse to run as root, and CI runs as root: then they run as the
`postgres` user (`runuser`), which owns the cluster's directory; otherwise as ourselves.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

# The user `initdb -U` makes the cluster's superuser; tests connect as it.
SUPERUSER = "postgres"
# Settings on the postmaster's command line: pg_ctl keeps them (postmaster.opts) on restart.
SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    # four clusters may run at once (one per xdist worker): keep each one's memory small
    "shared_buffers": "32MB",
    "max_connections": "200",
}
START_TIMEOUT_S = 30
# Another process may take the free port between our probe and the postmaster's bind.
PORT_ATTEMPTS = 3
TOOLS = ("initdb", "pg_ctl", "postgres")
DEBIAN_ROOT = Path("/usr/lib/postgresql")  # Debian's postgresql-<version>: <version>/bin


class PostgresMissingError(Exception):
    """The binaries, or the user to run them as, are not on this machine."""


def _has_tools(bindir: Path) -> bool:
    return all(os.access(bindir / tool, os.X_OK) for tool in TOOLS)


def version_key(bindir: Path) -> tuple[int, ...]:
    # /usr/lib/postgresql/<version>/bin: compare versions as numbers, so 9.6 < 15
    return tuple(int(part) for part in re.findall(r"\d+", bindir.parent.name))


def find_bindir(debian_root: Path = DEBIAN_ROOT) -> Path:
    """Where initdb, pg_ctl and postgres are: `pg_config --bindir`, else Debian's newest
    <debian_root>/*/bin (pg_config comes with libpq-dev, which the server doesn't need)."""
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        out = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, check=False, timeout=10
        )
        bindir = Path(out.stdout.strip())
        if out.returncode == 0 and _has_tools(bindir):
            return bindir
    found = [d for d in debian_root.glob("*/bin") if _has_tools(d)]
    if not found:
        raise PostgresMissingError("PostgreSQL's server (initdb, pg_ctl, postgres)")
    return max(found, key=version_key)


@dataclass(frozen=True)
class PostgresTools:
    """PostgreSQL's binaries, and how we run them: `prefix` before each command and the
    user `owner` who owns the cluster (None: ourselves)."""

    bindir: Path
    prefix: tuple[str, ...]
    owner: pwd.struct_passwd | None


def find_postgres() -> PostgresTools:
    """Raises PostgresMissingError when this machine cannot run a cluster. Root cannot run
    PostgreSQL's tools, so root hands them to the `postgres` user (Debian's package makes it)."""
    bindir = find_bindir()
    if os.geteuid() != 0:
        return PostgresTools(bindir, (), None)
    try:
        owner = pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresMissingError("the `postgres` user (root runs PostgreSQL as it)") from None
    runuser = shutil.which("runuser") or shutil.which("runuser", path="/usr/sbin:/sbin")
    if runuser is None:
        raise PostgresMissingError("runuser (root runs PostgreSQL as `postgres` with it)")
    return PostgresTools(bindir, (runuser, "-u", owner.pw_name, "--"), owner)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class PostgresServer:
    """One cluster: `with PostgresServer.running(find_postgres()) as server: ...`."""

    def __init__(self, tools: PostgresTools, root: Path) -> None:
        self.tools = tools
        self.root = root
        self.data = root / "data"
        self.log = root / "postgres.log"
        self.port = 0
        self._names = itertools.count(1)
        self._options = ""
        self.is_running = False

    @classmethod
    @contextmanager
    def running(cls, tools: PostgresTools) -> Iterator[PostgresServer]:
        """A new cluster, started; stopped (immediate: nothing in it is worth a checkpoint)
        and deleted on exit. Synchronous: a session fixture runs it outside any event loop."""
        root = Path(tempfile.mkdtemp(prefix="voicecall-pg-"))
        try:
            if tools.owner is not None:
                os.chown(root, tools.owner.pw_uid, tools.owner.pw_gid)
            server = cls(tools, root)
            server._initdb()
            server._first_start()
            try:
                yield server
            finally:
                server._stop("immediate")
        finally:
            shutil.rmtree(root, ignore_errors=True)

    @property
    def dsn(self) -> str:
        """The maintenance database `postgres`: create databases from here, keep none in it."""
        return self.url("postgres")

    def url(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    async def new_database(self) -> str:
        """A fresh, empty database of its own; its DSN."""
        name = f"test_{os.getpid()}_{next(self._names)}"
        conn = await asyncpg.connect(self.dsn)
        try:
            # FILE_COPY: a small template copies faster as files than through the WAL
            # (PostgreSQL 15's default, WAL_LOG); 14 and older know only file copies.
            version = conn.get_server_version().major
            strategy = " STRATEGY FILE_COPY" if version >= 15 else ""
            await conn.execute(f'CREATE DATABASE "{name}"{strategy}')
        finally:
            await conn.close()
        return self.url(name)

    async def drop_database(self, url: str) -> None:
        """Drop a database `new_database` made, ending any connection still in it."""
        name = url.rsplit("/", 1)[1]
        conn = await asyncpg.connect(self.dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    async def restart(self) -> None:
        """`pg_ctl restart -m fast`: every connection is cut, committed data stays, and the
        server is back on the same port when this returns."""
        # -l: without a log file the new postmaster would hold our stdout pipe open
        await asyncio.to_thread(self._pg_ctl, "restart", "-m", "fast", "-l", str(self.log))

    async def stop(self) -> None:
        """Stop the server (fast: connections cut, data kept) until `start()`."""
        await asyncio.to_thread(self._stop, "fast")

    async def start(self) -> None:
        """Start it again after `stop()`, on the same port and settings."""
        await asyncio.to_thread(self._start)

    def log_tail(self, lines: int = 20) -> str:
        """The end of the server's log, for a failure message."""
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    # -- the tools, run synchronously (from a session fixture or a worker thread) --

    def _tool(self, tool: str, *args: str) -> None:
        # cwd: the cluster's directory, which the `postgres` user can enter (the repo may not be)
        result = subprocess.run(
            [*self.tools.prefix, str(self.tools.bindir / tool), *args],
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
            timeout=START_TIMEOUT_S + 30,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{tool} {' '.join(args)} failed ({result.returncode}): "
                f"{result.stdout}{result.stderr}\n{self.log_tail()}"
            )

    def _initdb(self) -> None:
        self._tool(
            "initdb",
            "-D", str(self.data),
            "-U", SUPERUSER,
            "--auth=trust",
            "--no-locale",
            "-E", "UTF8",
            "--no-sync",
            "--no-instructions",
        )  # fmt: skip

    def _pg_ctl(self, command: str, *args: str) -> None:
        self._tool(
            "pg_ctl", command, "-D", str(self.data), "-w", "-t", str(START_TIMEOUT_S), "-s", *args
        )

    def _first_start(self) -> None:
        settings = {**SETTINGS, "unix_socket_directories": str(self.root)}
        for attempt in range(1, PORT_ATTEMPTS + 1):
            self.port = _free_port()
            self._options = " ".join(
                f"-c {key}={value}" for key, value in {**settings, "port": self.port}.items()
            )
            try:
                self._start()
            except RuntimeError:
                if attempt == PORT_ATTEMPTS or "could not bind" not in self.log_tail():
                    raise
            else:
                return

    def _start(self) -> None:
        # `restart` reuses the last command line (postmaster.opts), `start` needs it again.
        self._pg_ctl("start", "-l", str(self.log), "-o", self._options)
        self.is_running = True

    def _stop(self, mode: str) -> None:
        if self.is_running:
            self._pg_ctl("stop", "-m", mode)
            self.is_running = False
