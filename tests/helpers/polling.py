"""Waiting on what another process or the database says: ask again until it holds, with a
deadline. There is nothing in this process to wait on, so the pause only paces the asking."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def eventually(
    check: Callable[[], Awaitable[bool]], timeout_s: float, what: str, poll_s: float = 0.02
) -> None:
    """Return once `check()` holds; TimeoutError naming `what` after `timeout_s`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not await check():
        if loop.time() >= deadline:
            raise TimeoutError(f"not within {timeout_s}s: {what}")
        await asyncio.sleep(poll_s)  # the pace of asking, not a synchronisation
