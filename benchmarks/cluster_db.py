"""The cluster benchmark's PostgreSQL: a throwaway cluster, a fresh database per run, and
what the database did during a run (transactions and rows written, by table; its CPU).

The cluster is the test suite's own (`tests/helpers/postgres_server.py`: the machine's
binaries, loopback only, trust authentication, `fsync`/`synchronous_commit` off, run as
the `postgres` user when we are root). Durability off makes each commit cheaper than on a
production database; what is counted here (transactions and rows per call) does not change
with it.

Counters come from `pg_stat_database` and `pg_stat_user_tables`. A backend reports its
counts to them when it is idle for a while or when it exits, so a run's last reading is
taken once every connection of the instances is gone (`wait_disconnected`).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from tests.helpers.polling import eventually
from tests.helpers.postgres_server import PostgresServer, find_postgres

from voicecall_rt.store.postgres.database import PostgresStore

DISCONNECT_TIMEOUT_S = 15.0


@asynccontextmanager
async def throwaway_cluster() -> AsyncIterator[PostgresServer]:
    """A new PostgreSQL cluster for this benchmark, deleted afterwards (initdb and pg_ctl
    are run in a thread: they take seconds)."""
    stack = ExitStack()
    server = await asyncio.to_thread(stack.enter_context, PostgresServer.running(find_postgres()))
    try:
        yield server
    finally:
        await asyncio.to_thread(stack.close)


@dataclass(frozen=True)
class DbCounters:
    """What the database had done by one moment: its transactions and rows, each table's
    rows written, and the CPU seconds of all its processes."""

    xact_commit: int
    xact_rollback: int
    tup_inserted: int
    tup_updated: int
    tup_deleted: int
    tables: dict[str, tuple[int, int, int]]  # inserted, updated, deleted
    cpu_s: float | None

    def minus(self, before: DbCounters, calls: int) -> dict[str, Any]:
        """What happened between `before` and this reading, in total and per call. Rows
        are our tables' (the database-wide counts also hold catalog rows); transactions
        are every committed one, reads included."""
        commits = self.xact_commit - before.xact_commit
        per_table = {}
        rows = {"inserted": 0, "updated": 0, "deleted": 0}
        for name, now in sorted(self.tables.items()):
            was = before.tables.get(name, (0, 0, 0))
            delta = [a - b for a, b in zip(now, was, strict=True)]
            for key, value in zip(rows, delta, strict=True):
                rows[key] += value
            if any(delta):
                per_table[name] = {
                    "inserted": delta[0],
                    "updated": delta[1],
                    "deleted": delta[2],
                    "rows_per_call": round(sum(delta) / calls, 2) if calls else None,
                }
        written = sum(rows.values())
        return {
            "calls": calls,
            "database_wide": {
                "tup_inserted": self.tup_inserted - before.tup_inserted,
                "tup_updated": self.tup_updated - before.tup_updated,
                "tup_deleted": self.tup_deleted - before.tup_deleted,
            },
            "commits": commits,
            "rollbacks": self.xact_rollback - before.xact_rollback,
            "rows": rows,
            "rows_written": written,
            "commits_per_call": round(commits / calls, 2) if calls else None,
            "rows_per_call": round(written / calls, 2) if calls else None,
            "tables": per_table,
        }


class Database:
    """One fresh database of the benchmark's cluster, and readings of it."""

    def __init__(self, server: PostgresServer, url: str) -> None:
        self.server = server
        self.url = url
        self.name = url.rsplit("/", 1)[1]

    @classmethod
    async def fresh(cls, server: PostgresServer) -> Database:
        """A new database, migrated: the migrations' writes (catalog rows among them) are
        done, and counted, before a run's first reading."""
        db = cls(server, await server.new_database())
        store = await PostgresStore.open(db.url)
        await store.close()
        await db.wait_disconnected()  # its backends have reported their counts
        return db

    async def drop(self) -> None:
        await self.server.drop_database(self.url)

    async def counters(self) -> DbCounters:
        """A reading now. Our own connection's reading transaction is counted too (one
        commit per reading, no row)."""
        [db] = await _fetch(
            self.server.dsn,
            "SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted "
            "FROM pg_stat_database WHERE datname = $1",
            self.name,
        )
        # per-table counters are per database: read them from inside it
        tables = await _fetch(
            self.url, "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables"
        )
        return DbCounters(
            xact_commit=db["xact_commit"],
            xact_rollback=db["xact_rollback"],
            tup_inserted=db["tup_inserted"],
            tup_updated=db["tup_updated"],
            tup_deleted=db["tup_deleted"],
            tables={r["relname"]: (r["n_tup_ins"], r["n_tup_upd"], r["n_tup_del"]) for r in tables},
            cpu_s=await asyncio.to_thread(postgres_cpu_seconds, self.server.data),
        )

    async def wait_disconnected(self, timeout_s: float = DISCONNECT_TIMEOUT_S) -> bool:
        """Wait until no backend is connected to this database (each one reports its
        counts as it exits); False if some still are at the deadline."""
        conn = await asyncpg.connect(self.server.dsn)

        async def gone() -> bool:
            left = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", self.name
            )
            return not left

        try:
            await eventually(gone, timeout_s, f"no connection to {self.name}", 0.05)
        except TimeoutError:
            return False
        finally:
            await conn.close()
        return True

    async def calls(self) -> list[dict[str, Any]]:
        """Every call row: who owned it, how it ended."""
        rows = await _fetch(
            self.url, "SELECT id, owner, status, end_reason, carrier_sid FROM calls ORDER BY ord"
        )
        return [dict(r) for r in rows]


async def _fetch(dsn: str, query: str, *args: Any) -> list[Any]:
    """The rows of one query on a connection of its own."""
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


def postgres_cpu_seconds(data_dir: Path) -> float | None:
    """User + system CPU seconds of the whole cluster so far: the postmaster, the children
    it has reaped (cutime/cstime) and the ones still running. None when unreadable."""
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        total = _cpu_of(pid, reaped=True)
        for child in _children(pid):
            total += _cpu_of(child, reaped=False)
    except (OSError, ValueError):
        return None
    return total


def _stat_fields(pid: int) -> list[str]:
    # the command name is in parentheses and may hold spaces: split after it
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _cpu_of(pid: int, *, reaped: bool) -> float:
    try:
        fields = _stat_fields(pid)
    except OSError:
        return 0.0  # a backend that exited between the listing and now
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if reaped:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime: exited children
    return ticks / os.sysconf("SC_CLK_TCK")


def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int(_stat_fields(int(entry.name))[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent:
            found.append(int(entry.name))
    return found
