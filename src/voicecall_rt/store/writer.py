"""The store's one writer: a task that drains the queue of writes and commits each batch
as one transaction, so the code next to the audio path never waits on disk."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import aiosqlite

from voicecall_rt.store.errors import StoreError

log = logging.getLogger("voicecall_rt.store")
_T = TypeVar("_T")

# Bounds one transaction so a large backlog cannot hold the write lock for long.
_MAX_BATCH: Final = 1000


@dataclass(slots=True)
class WriteOp:
    label: str  # what to name in logs: never the parameters, they hold call content
    call_id: str | None
    sql: str
    params: tuple[Any, ...]
    # Set by callers that need the rows back or the error (settle_stale).
    result: asyncio.Future[list[Any]] | None = None
    # An UPDATE that matched nothing is a lost write worth a warning.
    expect_row: bool = False

    @property
    def groupable(self) -> bool:
        # executemany returns no rows, so only ops nobody reads a result from.
        return self.result is None and not self.expect_row


@dataclass(slots=True)
class _Flush:
    done: asyncio.Future[None]


@dataclass(slots=True)
class _Stop:
    pass


_Item = WriteOp | _Flush | _Stop
# Per op: the rows it returned, or the error that made SQLite reject it.
_Outcome = list[Any] | sqlite3.Error


class Writer:
    """Runs the writes put to it, in order, on `conn` (which it alone uses).

    Start it inside the event loop; `stop()` then `stopped()` to end it.
    """

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._task = asyncio.create_task(self._run(), name="voicecall_rt.store.writer")
        self._task.add_done_callback(_report_exit)

    def put(self, op: WriteOp) -> None:
        self._queue.put_nowait(op)

    def stop(self) -> None:
        """End once everything put before is written."""
        self._queue.put_nowait(_Stop())

    async def stopped(self) -> None:
        await asyncio.wait({self._task})

    def done(self) -> bool:
        """Whether the writer task has ended (stopped, or died)."""
        return self._task.done()

    async def flush(self) -> None:
        """Return once every write put before this call is committed (or failed)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Flush(done))
        await self.result(done)

    async def result(self, fut: asyncio.Future[_T]) -> _T:
        """`fut`'s result, once the writer has set it."""
        # Waiting on the writer too, so a writer that died cannot leave callers hanging.
        waiters: set[asyncio.Future[Any]] = {fut, self._task}
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        if not fut.done():
            raise StoreError("store writer is not running")
        return fut.result()

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < _MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except asyncio.QueueEmpty:
                    break
            ops = [item for item in batch if isinstance(item, WriteOp)]
            if ops:
                try:
                    await self._write(ops)
                except Exception:
                    # _write handles SQLite errors itself; this is a bug, keep serving.
                    log.exception("store: unexpected error in writer; %d writes lost", len(ops))
                    # Else a half-done transaction would be committed with the next batch.
                    await self._rollback_quietly()
                    for op in ops:
                        if op.result is not None and not op.result.done():
                            op.result.set_exception(StoreError("write failed"))
            for item in batch:
                if isinstance(item, _Flush) and not item.done.done():
                    item.done.set_result(None)
            if any(isinstance(item, _Stop) for item in batch):
                return

    async def _write(self, ops: list[WriteOp]) -> None:
        try:
            outcomes = await self._transaction(ops)
        except sqlite3.Error:
            # Something took the whole transaction down (busy, disk full, a
            # RAISE(ROLLBACK)): retry op by op so one bad write costs only itself.
            log.exception("store: batch of %d writes failed; retrying one by one", len(ops))
            await self._rollback_quietly()
            outcomes = []
            for op in ops:
                try:
                    outcomes.extend(await self._transaction([op]))
                except sqlite3.Error as exc:
                    _log_failure(op, exc)
                    await self._rollback_quietly()
                    outcomes.append(exc)
        for op, outcome in zip(ops, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                if op.result is not None and not op.result.done():
                    op.result.set_exception(outcome)
                continue
            if op.expect_row and not outcome:
                log.warning("store: %s matched no call (call %s)", op.label, op.call_id)
            if op.result is not None and not op.result.done():
                op.result.set_result(outcome)

    async def _transaction(self, ops: Sequence[WriteOp]) -> list[_Outcome]:
        conn = self._conn
        await conn.execute("BEGIN IMMEDIATE")
        outcomes: list[_Outcome] = []
        start = 0
        while start < len(ops):
            end = start + 1
            if ops[start].groupable:
                while end < len(ops) and ops[end].groupable and ops[end].sql == ops[start].sql:
                    end += 1
            if end - start > 1:
                outcomes.extend(await self._execute_run(ops[start:end]))
            else:
                outcomes.append(await self._execute_one(ops[start]))
            start = end
        await conn.execute("COMMIT")
        return outcomes

    async def _execute_run(self, run: Sequence[WriteOp]) -> list[_Outcome]:
        # Every await on aiosqlite is a round trip to its thread and a wake-up of the event
        # loop, so a run of identical inserts (a turn's events, say) goes as one
        # executemany. The savepoint lets a failure inside it fall back to one by one,
        # so only the bad row is lost.
        conn = self._conn
        await conn.execute("SAVEPOINT run")
        try:
            await conn.executemany(run[0].sql, [op.params for op in run])
        except sqlite3.Error:
            if not conn.in_transaction:
                raise
            await conn.execute("ROLLBACK TO run")
            await conn.execute("RELEASE run")
            return [await self._execute_one(op) for op in run]
        await conn.execute("RELEASE run")
        return [[] for _ in run]

    async def _execute_one(self, op: WriteOp) -> _Outcome:
        conn = self._conn
        try:
            return list(await conn.execute_fetchall(op.sql, op.params))
        except sqlite3.Error as exc:
            # A constraint failure undoes only its own statement; anything that ended the
            # transaction means the earlier ops are gone too: the caller redoes the batch.
            if not conn.in_transaction:
                raise
            _log_failure(op, exc)
            return exc

    async def _rollback_quietly(self) -> None:
        if self._conn.in_transaction:
            try:
                await self._conn.execute("ROLLBACK")
            except Exception:
                # Called from the writer's error paths: raising here would end the writer.
                log.exception("store: rollback failed")


def _log_failure(op: WriteOp, exc: sqlite3.Error) -> None:
    # The exception text from SQLite names the constraint, not the values.
    log.error("store: %s failed (call %s): %s", op.label, op.call_id, exc)


def _report_exit(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.critical("store: writer task died", exc_info=task.exception())
