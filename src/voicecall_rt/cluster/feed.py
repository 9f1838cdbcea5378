"""Live entries of calls other instances run, for the followers this instance serves
(`calls show --follow`, the dashboard, the SSE API and MCP progress ask any instance).

Every batch the store's writer commits notifies `voicecall_rt_calls` with the ids of the
calls it changed (store/postgres/batches.py). The feed listens on a connection of its own
(never a pooled one: LISTEN belongs to the session), and for a call someone here follows
but another instance runs, reads back the rows numbered after what it has handed on and
publishes them as the journal would have (`Hub.publish_remote`). Notifications carry ids
only and are not replayed: after the listening connection is lost, every followed call is
caught up from the rows once it is back, so nothing is missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import asyncpg

from voicecall_rt.call.journal import Hub, event_entry, line_entry, status_entry
from voicecall_rt.call.records import CallStatus
from voicecall_rt.store.errors import StoreError
from voicecall_rt.store.postgres.batches import CHANNEL
from voicecall_rt.store.postgres.connect import CONNECTION_LOST, connect
from voicecall_rt.store.postgres.database import PostgresStore

log = logging.getLogger(__name__)

_FIRST_RETRY_S: Final = 0.1
_MAX_RETRY_S: Final = 2.0


@dataclass(slots=True)
class _Handed:
    """What the followers of one call have been given."""

    line: int = 0
    event: int = 0
    status: CallStatus | None = None


class RemoteFeed:
    def __init__(self, store: PostgresStore, hub: Hub, is_local: Callable[[str], bool]) -> None:
        self._store = store
        self._hub = hub
        self._is_local = is_local
        self._handed: dict[str, _Handed] = {}
        self._due: set[str] = set()
        self._wake = asyncio.Event()
        self._lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.reconnects = 0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="cluster-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _remote_followed(self) -> set[str]:
        return {c for c in self._hub.followed_calls() if not self._is_local(c)}

    def _notified(self, _conn: Any, _pid: int, _channel: str, call_id: str) -> None:
        if call_id in self._hub.followed_calls() and not self._is_local(call_id):
            self._due.add(call_id)
            self._wake.set()

    def _terminated(self, _conn: Any) -> None:
        self._lost.set()
        self._wake.set()

    async def _run(self) -> None:
        delay = _FIRST_RETRY_S
        while True:
            conn: Any | None = None
            try:
                conn = await connect(self._store.url)
                self._lost.clear()
                await conn.add_listener(CHANNEL, self._notified)
                conn.add_termination_listener(self._terminated)
                delay = _FIRST_RETRY_S
                # Whatever was written while nobody listened: caught up from the rows.
                self._due |= self._remote_followed()
                self._wake.set()
                await self._serve()
            except (*CONNECTION_LOST, asyncpg.PostgresError, StoreError) as exc:
                log.warning("live feed: database unreachable (%s); retrying", type(exc).__name__)
            finally:
                if conn is not None:
                    conn.terminate()
            self.reconnects += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, _MAX_RETRY_S)

    async def _serve(self) -> None:
        while not self._lost.is_set():
            await self._wake.wait()
            self._wake.clear()
            due, self._due = self._due, set()
            for call_id in sorted(due):
                try:
                    await self._catch_up(call_id)
                except BaseException:
                    self._due.add(call_id)  # not handed on yet: again after the retry
                    raise
            for call_id in set(self._handed) - self._hub.followed_calls():
                del self._handed[call_id]  # nobody follows it any more

    async def _catch_up(self, call_id: str) -> None:
        handed = self._handed.setdefault(call_id, _Handed())
        record = await self._store.get_call(call_id)
        if record is None:
            return
        lines = await self._store.transcript(call_id, after_seq=handed.line)
        events = await self._store.events(call_id, after_seq=handed.event)
        entries: list[tuple[int, dict[str, Any]]] = []
        for line in lines:
            handed.line = max(handed.line, line.seq)
            entry = line_entry(call_id, line.t_ms, line.role, line.text, line.interrupted, line.seq)
            entries.append((line.t_ms, entry))
        for event in events:
            handed.event = max(handed.event, event.seq)
            entries.append(
                (event.t_ms, event_entry(call_id, event.kind, event.t_ms, event.data, event.seq))
            )
        for _, entry in sorted(entries, key=lambda pair: pair[0]):
            self._hub.publish_remote(entry)
        if record.status is not handed.status:
            handed.status = record.status
            self._hub.publish_remote(status_entry(record))
