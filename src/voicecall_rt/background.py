"""Background tasks held by their owner: the loop keeps only weak references to tasks, so
whoever starts one that outlives the request (a follow-up after a webhook, a simulator's
timer) keeps it here, has its failure logged, and cancels what is left when it closes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

__all__ = ["TaskSet"]

logger = logging.getLogger(__name__)


class TaskSet:
    """Strong references to running tasks (the loop keeps only weak ones); a task that dies
    of an exception is logged; `cancel_all` at close. Falsy when none is running."""

    def __init__(self) -> None:
        self._running: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._running)

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._running.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("background task %s failed", task.get_name(), exc_info=task.exception())

    async def cancel_all(self) -> None:
        """Cancel every task, and any a cancelled one starts, until none is left."""
        while leftovers := [t for t in self._running if not t.done()]:
            for task in leftovers:
                task.cancel()
            await asyncio.wait(leftovers)

    async def finish(self, grace_s: float) -> None:
        """Let the running tasks end by themselves for up to `grace_s`, then cancel the rest."""
        if running := [t for t in self._running if not t.done()]:
            await asyncio.wait(running, timeout=grace_s)
        await self.cancel_all()
