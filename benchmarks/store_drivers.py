"""asyncpg against psycopg 3 on the PostgreSQL store's own pattern: to pick the driver by numbers.

    python -m benchmarks.store_drivers                # a throwaway cluster, 5 repeats
    python -m benchmarks.store_drivers --dsn postgresql://user@host/db --repeat 3

What each driver does, on one connection (as the store's writer holds one) in autocommit,
with each driver's defaults (asyncpg's statement cache; psycopg's prepare threshold and
its pipelined `executemany`):

- writes: 2,000 batches of 20 small rows (a call's transcript lines and events, 100 calls
  interleaved, 20 batches each), each batch one transaction: BEGIN, `executemany` of an
  INSERT, COMMIT. Reported as batches/s and µs per row, wall and our CPU.
- point reads: 2,000 `SELECT … WHERE call_id = … AND seq = …` by primary key, one after
  another, each timed: p50/p99.
- LISTEN/NOTIFY: `pg_notify` on one connection, received on a second one that LISTENs
  (asyncpg: `add_listener`'s callback; psycopg: a task iterating `notifies()`, which keeps
  that connection from running anything else, psycopg/psycopg#340), 2,000 round trips one
  after another: p50/p99 from just before the NOTIFY to the payload in our hands.

Our process's CPU (getrusage: user + system) is taken around each phase; the server's is
not counted. The drivers alternate in each repeat (ABAB, then BABA) so drift on a shared
machine falls on both; each figure is the median of the repeats, with min–max beside it.
Results: benchmarks/results/store-drivers.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import resource
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from typing import Any, Protocol

import asyncpg
import orjson
import psycopg

from voicecall_rt.call.stats import percentile

ROWS_PER_BATCH = 20
BATCHES = 2000
CALLS = 100  # the batches interleave this many calls, as concurrent calls' writers would
READS = 2000
NOTIFIES = 2000
WARMUP = 50  # untimed batches, reads and round trips first: caches, prepared statements
CHANNEL = "voicecall_bench"

TABLE = (
    "CREATE TABLE events (call_id text, seq int, t_ms bigint, kind text, data text, "
    "PRIMARY KEY (call_id, seq))"
)
Row = tuple[str, int, int, str, str]


def call_id(call: int, prefix: str = "CA") -> str:
    return f"{prefix}{call:032x}"


def make_batches(count: int, prefix: str = "CA") -> list[list[Row]]:
    """Deterministic rows: batch b belongs to call b % CALLS, its rows continue that call's
    numbering; `data` is a transcript line's JSON, ~100 bytes, as the store writes it."""
    batches = []
    for b in range(count):
        call, nth = b % CALLS, b // CALLS
        rows = []
        for k in range(ROWS_PER_BATCH):
            seq = nth * ROWS_PER_BATCH + k
            kind = "transcript" if k % 2 else "event"
            data = orjson.dumps({"role": "assistant", "text": f"line {seq} of the call, so"})
            rows.append((call_id(call, prefix), seq, 1_000 * seq, kind, data.decode()))
        batches.append(rows)
    return batches


class Driver(Protocol):
    name: str

    async def open(self, dsn: str, on_notify: Callable[[str], None]) -> None: ...
    async def reset_table(self) -> None: ...
    async def write(self, rows: Sequence[Row]) -> None: ...
    async def read(self, call: str, seq: int) -> Any: ...
    async def notify(self, payload: str) -> None: ...
    async def close(self) -> None: ...


class Asyncpg:
    name = f"asyncpg {asyncpg.__version__}"

    async def open(self, dsn: str, on_notify: Callable[[str], None]) -> None:
        self.conn = await asyncpg.connect(dsn)
        self.listener = await asyncpg.connect(dsn)
        # The callback runs on the loop when the notification is read: no task, and the
        # listening connection stays free for other queries.
        await self.listener.add_listener(CHANNEL, lambda _c, _pid, _ch, payload: on_notify(payload))

    async def reset_table(self) -> None:
        await self.conn.execute("DROP TABLE IF EXISTS events")
        await self.conn.execute(TABLE)

    async def write(self, rows: Sequence[Row]) -> None:
        async with self.conn.transaction():
            await self.conn.executemany("INSERT INTO events VALUES ($1, $2, $3, $4, $5)", rows)

    async def read(self, call: str, seq: int) -> Any:
        return await self.conn.fetchrow(
            "SELECT t_ms, kind, data FROM events WHERE call_id = $1 AND seq = $2", call, seq
        )

    async def notify(self, payload: str) -> None:
        await self.conn.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)

    async def close(self) -> None:
        await self.listener.close()
        await self.conn.close()


class Psycopg:
    _libpq = psycopg.pq.version()  # e.g. 170004: 17.4
    name = f"psycopg {psycopg.__version__} (libpq {_libpq // 10000}.{_libpq % 10000})"

    async def open(self, dsn: str, on_notify: Callable[[str], None]) -> None:
        self.conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
        self.listener = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
        await self.listener.execute(f"LISTEN {CHANNEL}")

        async def receive() -> None:
            # notifies() holds the connection for as long as it iterates (psycopg#340).
            async for note in self.listener.notifies():
                on_notify(note.payload)

        self.receiver = asyncio.create_task(receive())

    async def reset_table(self) -> None:
        await self.conn.execute("DROP TABLE IF EXISTS events")
        await self.conn.execute(TABLE)

    async def write(self, rows: Sequence[Row]) -> None:
        async with self.conn.transaction(), self.conn.cursor() as cur:
            await cur.executemany("INSERT INTO events VALUES (%s, %s, %s, %s, %s)", rows)

    async def read(self, call: str, seq: int) -> Any:
        cur = await self.conn.execute(
            "SELECT t_ms, kind, data FROM events WHERE call_id = %s AND seq = %s", (call, seq)
        )
        return await cur.fetchone()

    async def notify(self, payload: str) -> None:
        await self.conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))

    async def close(self) -> None:
        self.receiver.cancel()
        await asyncio.gather(self.receiver, return_exceptions=True)
        await self.listener.close()
        await self.conn.close()


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Timed:
    """Wall and CPU seconds of the `with` block."""

    def __enter__(self) -> Timed:
        self.wall, self.cpu = time.perf_counter(), cpu_seconds()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = cpu_seconds() - self.cpu


async def measure(driver: Driver, dsn: str) -> dict[str, float]:
    """One run of the three phases on a fresh table; the figures of the run."""
    loop = asyncio.get_running_loop()
    waiting: dict[str, asyncio.Future[float]] = {}

    def on_notify(payload: str) -> None:
        future = waiting.pop(payload, None)
        if future is not None and not future.done():
            future.set_result(time.perf_counter())

    async def round_trip(payload: str) -> float:
        future: asyncio.Future[float] = loop.create_future()
        waiting[payload] = future
        start = time.perf_counter()
        await driver.notify(payload)
        received = await asyncio.wait_for(future, timeout=10)
        return received - start

    await driver.open(dsn, on_notify)
    try:
        await driver.reset_table()
        for rows in make_batches(WARMUP, prefix="WU"):
            await driver.write(rows)
        for n in range(WARMUP):
            await driver.read(call_id(n % CALLS, "WU"), 0)
            await round_trip(f"warm{n}")

        batches = make_batches(BATCHES)
        with Timed() as writes:
            for rows in batches:
                await driver.write(rows)

        written = BATCHES * ROWS_PER_BATCH
        keys = [b[k][:2] for b in batches for k in (0, ROWS_PER_BATCH - 1)]
        picks = random.Random(13).sample(keys, READS)
        reads: list[float] = []
        with Timed() as read_phase:
            for call, seq in picks:
                start = time.perf_counter()
                row = await driver.read(call, seq)
                reads.append(time.perf_counter() - start)
                assert row is not None and row[0] == 1_000 * seq

        with Timed() as notify_phase:
            notes = [await round_trip(str(n)) for n in range(NOTIFIES)]
    finally:
        await driver.close()
    return {
        "batches_per_s": BATCHES / writes.wall,
        "us_per_row": writes.wall / written * 1e6,
        "cpu_us_per_row": writes.cpu / written * 1e6,
        "read_p50_us": percentile(reads, 50) * 1e6,
        "read_p99_us": percentile(reads, 99) * 1e6,
        "cpu_us_per_read": read_phase.cpu / READS * 1e6,
        "notify_p50_us": percentile(notes, 50) * 1e6,
        "notify_p99_us": percentile(notes, 99) * 1e6,
        "cpu_us_per_notify": notify_phase.cpu / NOTIFIES * 1e6,
        "cpu_s": writes.cpu + read_phase.cpu + notify_phase.cpu,
    }


COLUMNS = {
    "batches_per_s": ("batches/s", "{:.0f}"),
    "us_per_row": ("µs/row (wall)", "{:.1f}"),
    "cpu_us_per_row": ("µs/row (our CPU)", "{:.1f}"),
    "read_p50_us": ("read p50 µs", "{:.0f}"),
    "read_p99_us": ("read p99 µs", "{:.0f}"),
    "cpu_us_per_read": ("CPU µs/read", "{:.0f}"),
    "notify_p50_us": ("notify p50 µs", "{:.0f}"),
    "notify_p99_us": ("notify p99 µs", "{:.0f}"),
    "cpu_us_per_notify": ("CPU µs/notify", "{:.0f}"),
    "cpu_s": ("our CPU s (all phases)", "{:.2f}"),
}


def table(results: dict[str, list[dict[str, float]]]) -> str:
    """Markdown: a row per figure, a column per driver: median (min–max) of the repeats."""
    names = list(results)
    lines = [f"| | {' | '.join(names)} |", "|---" * (len(names) + 1) + "|"]
    for key, (label, fmt) in COLUMNS.items():
        cells = []
        for name in names:
            values = [run[key] for run in results[name]]
            low, high = fmt.format(min(values)), fmt.format(max(values))
            cells.append(f"{fmt.format(statistics.median(values))} ({low}–{high})")
        lines.append(f"| {label} | {' | '.join(cells)} |")
    return "\n".join(lines)


def orders(repeat: int) -> Iterator[list[Driver]]:
    for r in range(repeat):
        drivers: list[Driver] = [Asyncpg(), Psycopg()]
        yield drivers if r % 2 == 0 else drivers[::-1]


async def sitting(dsn: str, repeat: int) -> dict[str, list[dict[str, float]]]:
    results: dict[str, list[dict[str, float]]] = {}
    for r, drivers in enumerate(orders(repeat), start=1):
        for driver in drivers:
            run = await measure(driver, dsn)
            results.setdefault(driver.name, []).append(run)
            summary = ", ".join(f"{k}={v:.1f}" for k, v in run.items())
            print(f"-- {r}/{repeat} {driver.name}: {summary}", flush=True)
    return dict(sorted(results.items()))


def new_loop(kind: str) -> Callable[[], asyncio.AbstractEventLoop]:
    if kind == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return asyncio.new_event_loop


async def server_version(dsn: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", help="an existing database (default: a throwaway cluster)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    args = parser.parse_args()
    with ExitStack() as stack:
        dsn = args.dsn
        if dsn is None:
            # the test suite's throwaway cluster: loopback, durability off (fsync, commit)
            from tests.helpers.postgres_server import PostgresServer, find_postgres

            dsn = stack.enter_context(PostgresServer.running(find_postgres())).dsn
        with asyncio.Runner(loop_factory=new_loop(args.loop)) as runner:
            version = runner.run(server_version(dsn))
            print(
                f"PostgreSQL {version}, Python {platform.python_version()}, loop {args.loop}, "
                f"{os.cpu_count()} CPUs, load average {os.getloadavg()}",
                flush=True,
            )
            results = runner.run(sitting(dsn, args.repeat))
    print(f"load average at the end: {os.getloadavg()}")
    print(table(results))


if __name__ == "__main__":
    main()
