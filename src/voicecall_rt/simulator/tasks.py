"""The simulators' background tasks: a fake carrier's calls, streams, webhooks and timers;
a fake model session's responses and late transcripts."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from voicecall_rt.background import TaskSet

__all__ = ["Spawn", "TaskSet", "cancel_and_wait"]

# Start a task under a name (`TaskSet.spawn`), for the parts that start their own.
Spawn = Callable[[Coroutine[Any, Any, None], str], asyncio.Task[None]]


async def cancel_and_wait(*tasks: asyncio.Task[None] | None) -> None:
    """Cancel those of `tasks` still running (never the caller's own) and wait for them."""
    current = asyncio.current_task()
    live = [t for t in tasks if t is not None and t is not current and not t.done()]
    for task in live:
        task.cancel()
    if live:
        await asyncio.wait(live)
