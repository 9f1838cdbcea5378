"""The simulators' background tasks: a fake carrier's calls, streams, webhooks and timers;
a fake model session's responses and late transcripts."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

__all__ = ["Spawn", "TaskSet", "cancel_and_wait"]

# Start a task under a name (`TaskSet.spawn`), for the parts that start their own.
Spawn = Callable[[Coroutine[Any, Any, None], str], asyncio.Task[None]]

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
            logger.error("simulator task %s failed", task.get_name(), exc_info=task.exception())

    async def cancel_all(self) -> None:
        """Cancel every task, and any a cancelled one starts, until none is left."""
        while leftovers := [t for t in self._running if not t.done()]:
            for task in leftovers:
                task.cancel()
            await asyncio.wait(leftovers)


async def cancel_and_wait(*tasks: asyncio.Task[None] | None) -> None:
    """Cancel those of `tasks` still running (never the caller's own) and wait for them."""
    current = asyncio.current_task()
    live = [t for t in tasks if t is not None and t is not current and not t.done()]
    for task in live:
        task.cancel()
    if live:
        await asyncio.wait(live)
