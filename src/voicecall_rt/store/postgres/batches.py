"""How PostgreSQL commits a batch of writes, and holds them through an outage.

A batch is one transaction; runs of the same insert go as one executemany. A write the
database refuses costs only itself (the batch is redone one write per transaction). When
the connection is lost — the server restarting, a network cut — the batch is kept and
retried in order on a new connection until it lands, while the calls go on talking and
later writes queue behind it: nothing is lost and nothing reordered. The inserts whose key
is known do nothing when the row exists, so a batch whose COMMIT landed but whose answer
was lost can be redone without a duplicate.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final

import asyncpg

from voicecall_rt.store.dialect import numbered
from voicecall_rt.store.errors import StoreError
from voicecall_rt.store.ops import WriteOp, runs
from voicecall_rt.store.postgres.connect import CONNECTION_LOST

log = logging.getLogger("voicecall_rt.store")

_FIRST_RETRY_S: Final = 0.05
_MAX_RETRY_S: Final = 2.0
# Once the store is closing, how long an unreachable database may still be waited for.
CLOSING_PATIENCE_S: Final = 10.0

# asyncpg has no type hints: its errors are Any to mypy, so the outcome is named loosely.
_Outcome = list[Any] | Exception

# Every committed batch names the calls it changed here, one notification per call, so
# other instances can follow a call they do not own.
CHANNEL: Final = "voicecall_rt_calls"
_NOTIFY: Final = "SELECT pg_notify($1, call_id) FROM unnest($2::text[]) AS call_id"


class PostgresBatches:
    """The writer's side of the one connection it alone uses (reopened when lost)."""

    def __init__(self, connect: Callable[[], Awaitable[Any]], conn: Any) -> None:
        self._connect = connect
        self._conn: Any | None = conn
        self._give_up_at: float | None = None
        self.outages = 0  # how many times the database went away (status, tests)

    def closing(self) -> None:
        """The store is closing: wait for a lost database only `CLOSING_PATIENCE_S` more."""
        self._give_up_at = asyncio.get_running_loop().time() + CLOSING_PATIENCE_S

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close(timeout=CLOSING_PATIENCE_S)

    async def write(self, ops: list[WriteOp]) -> None:
        delay = _FIRST_RETRY_S
        lost_at: float | None = None
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn = await self._connection()
                outcomes = await self._commit(conn, ops)
                break
            except CONNECTION_LOST as exc:
                await self._drop()
                if lost_at is None:
                    lost_at = loop.time()
                    self.outages += 1
                    log.warning(
                        "store: database unreachable (%s); holding %d writes and retrying",
                        type(exc).__name__,
                        len(ops),
                    )
                if self._give_up_at is not None and loop.time() >= self._give_up_at:
                    log.error("store: database unreachable at shutdown; %d writes lost", len(ops))
                    for op in ops:
                        op.answer(StoreError("database unreachable"))
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, _MAX_RETRY_S)
        if lost_at is not None:
            log.warning(
                "store: database back after %.1f s; held writes committed", loop.time() - lost_at
            )
        for op, outcome in zip(ops, outcomes, strict=True):
            if not isinstance(outcome, BaseException) and op.expect_row and not outcome:
                log.warning("store: %s matched no call (call %s)", op.label, op.call_id)
            op.answer(outcome)

    async def recover(self) -> None:
        # Whatever a write left half done goes with the connection.
        await self._drop()

    async def _connection(self) -> Any:
        if self._conn is None or self._conn.is_closed():
            self._conn = await self._connect()
        return self._conn

    async def _drop(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.terminate()

    async def _commit(self, conn: Any, ops: Sequence[WriteOp]) -> list[_Outcome]:
        try:
            async with conn.transaction():
                return await self._run(conn, ops)
        except CONNECTION_LOST:
            raise
        except asyncpg.PostgresError as exc:
            if len(ops) == 1:
                _log_failure(ops[0], exc)
                return [exc]
            # No traceback: its text would carry the DETAIL (`refusal`).
            log.error(
                "store: batch of %d writes failed (%s); retrying one by one",
                len(ops),
                refusal(exc),
            )
            return [await self._one_alone(conn, op) for op in ops]

    async def _one_alone(self, conn: Any, op: WriteOp) -> _Outcome:
        try:
            async with conn.transaction():
                return (await self._run(conn, [op]))[0]
        except CONNECTION_LOST:
            raise
        except asyncpg.PostgresError as exc:
            _log_failure(op, exc)
            refused: Exception = exc
            return refused

    async def _run(self, conn: Any, ops: Sequence[WriteOp]) -> list[_Outcome]:
        outcomes = await self._statements(conn, ops)
        changed = sorted({op.call_id for op in ops if op.call_id is not None})
        if changed:
            # Sent at COMMIT, so a listener that reads on it sees the rows (cluster/feed.py).
            await conn.execute(_NOTIFY, CHANNEL, changed)
        return outcomes

    async def _statements(self, conn: Any, ops: Sequence[WriteOp]) -> list[_Outcome]:
        outcomes: list[_Outcome] = []
        for run in runs(ops):
            if len(run) > 1:
                await conn.executemany(numbered(run[0].sql), [op.params for op in run])
                outcomes.extend([] for _ in run)
            else:
                outcomes.append(await self._one(conn, run[0]))
        return outcomes

    async def _one(self, conn: Any, op: WriteOp) -> list[Any]:
        return list(await conn.fetch(numbered(op.sql), *op.params))


def refusal(exc: asyncpg.PostgresError) -> str:
    """What the server said, without its DETAIL: the message names the constraint, the
    DETAIL of a NOT NULL or CHECK violation holds the whole failing row (call content)."""
    return str(getattr(exc, "message", None) or type(exc).__name__)


def _log_failure(op: WriteOp, exc: asyncpg.PostgresError) -> None:
    log.error("store: %s failed (call %s): %s", op.label, op.call_id, refusal(exc))
