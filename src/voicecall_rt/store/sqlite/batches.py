"""How SQLite commits a batch of writes: one transaction, runs of the same insert as one
executemany, and a failure that costs only the write that caused it."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from typing import Any

import aiosqlite

from voicecall_rt.store.ops import WriteOp, runs

log = logging.getLogger("voicecall_rt.store")

# Per op: the rows it returned, or the error that made SQLite reject it.
_Outcome = list[Any] | sqlite3.Error


class SqliteBatches:
    """The writer's side of the SQLite connection it alone uses."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def write(self, ops: list[WriteOp]) -> None:
        try:
            outcomes = await self._transaction(ops)
        except sqlite3.Error:
            # Something took the whole transaction down (busy, disk full, a
            # RAISE(ROLLBACK)): retry op by op so one bad write costs only itself.
            log.exception("store: batch of %d writes failed; retrying one by one", len(ops))
            await self.recover()
            outcomes = []
            for op in ops:
                try:
                    outcomes.extend(await self._transaction([op]))
                except sqlite3.Error as exc:
                    log_failure(op, exc)
                    await self.recover()
                    outcomes.append(exc)
        for op, outcome in zip(ops, outcomes, strict=True):
            if not isinstance(outcome, BaseException) and op.expect_row and not outcome:
                log.warning("store: %s matched no call (call %s)", op.label, op.call_id)
            op.answer(outcome)

    async def recover(self) -> None:
        if self._conn.in_transaction:
            try:
                await self._conn.execute("ROLLBACK")
            except Exception:
                # Called from the writer's error paths: raising here would end the writer.
                log.exception("store: rollback failed")

    async def _transaction(self, ops: Sequence[WriteOp]) -> list[_Outcome]:
        conn = self._conn
        await conn.execute("BEGIN IMMEDIATE")
        outcomes: list[_Outcome] = []
        for run in runs(ops):
            if len(run) > 1:
                outcomes.extend(await self._execute_run(run))
            else:
                outcomes.append(await self._execute_one(run[0]))
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
            log_failure(op, exc)
            return exc


def log_failure(op: WriteOp, exc: Exception) -> None:
    # The database's error text names the constraint, not the values.
    log.error("store: %s failed (call %s): %s", op.label, op.call_id, exc)
