"""The store's one writer: a task that drains the queue of writes and hands each batch to
the backend (`Batches`), which commits it as one transaction, so the code next to the
audio path never waits on the database."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Final, Protocol, TypeVar

from voicecall_rt.store.errors import StoreError
from voicecall_rt.store.ops import WriteOp

log = logging.getLogger("voicecall_rt.store")
_T = TypeVar("_T")

# Bounds one transaction so a large backlog cannot hold the write lock for long.
MAX_BATCH: Final = 1000


class Batches(Protocol):
    """A backend's way of committing writes."""

    async def write(self, ops: list[WriteOp]) -> None:
        """Commit `ops` in order and answer each (`WriteOp.answer`). A write the database
        refuses costs only itself; the backend logs it."""

    async def recover(self) -> None:
        """Undo whatever a `write` that raised left half done."""


@dataclass(slots=True)
class _Flush:
    done: asyncio.Future[None]


@dataclass(slots=True)
class _Stop:
    pass


_Item = WriteOp | _Flush | _Stop


class Writer:
    """Runs the writes put to it, in order, through `batches` (which it alone uses).

    Start it inside the event loop; `stop()` then `stopped()` to end it.
    """

    def __init__(self, batches: Batches) -> None:
        self._batches = batches
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._task = asyncio.create_task(self._run(), name="voicecall_rt.store.writer")
        self._task.add_done_callback(_report_exit)

    def put(self, op: WriteOp) -> None:
        self._queue.put_nowait(op)

    def pending(self) -> int:
        """Writes and flushes waiting (the batch being written not counted)."""
        return self._queue.qsize()

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
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except asyncio.QueueEmpty:
                    break
            ops = [item for item in batch if isinstance(item, WriteOp)]
            if ops:
                try:
                    await self._batches.write(ops)
                except Exception:
                    # The backend handles database errors itself; this is a bug, keep serving.
                    log.exception("store: unexpected error in writer; %d writes lost", len(ops))
                    # Else a half-done transaction would be committed with the next batch.
                    await self._batches.recover()
                    for op in ops:
                        op.answer(StoreError("write failed"))
            for item in batch:
                if isinstance(item, _Flush) and not item.done.done():
                    item.done.set_result(None)
            if any(isinstance(item, _Stop) for item in batch):
                return


def _report_exit(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.critical("store: writer task died", exc_info=task.exception())
