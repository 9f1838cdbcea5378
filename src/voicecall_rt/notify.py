"""Results pushed back: when a call settles, POST its result to `notify.url`.

What is sent, in either of the two formats, is notify_payload.py. The notifier learns
that a call settled from the live hub and reads the call back from the store, so the call
manager knows nothing of it. Each delivery is a background task: bounded attempts with
exponential backoff on network errors, 408/425/429 and 5xx (a `Retry-After` is honoured
up to the cap), none on other answers; every attempt and the final verdict go into the
call's events. The token is never recorded or logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import OrderedDict
from typing import Any, Final

import aiohttp
import orjson

from voicecall_rt import __version__
from voicecall_rt.call.journal import ALL_CALLS, Hub
from voicecall_rt.call.records import CallRecord, CallStatus, TranscriptLine, now_ms
from voicecall_rt.config import NotifySettings
from voicecall_rt.notify_payload import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    CostOf,
    build_generic,
    build_openclaw,
    call_cost,
    sign,
)
from voicecall_rt.store.database import Store

__all__ = ["Notifier"]

log = logging.getLogger(__name__)

MAX_ATTEMPTS: Final = 5
BACKOFF_BASE_S = 1.0  # 1, 2, 4, 8 s between the five attempts (module-level: tests shrink it)
BACKOFF_MAX_S: Final = 60.0
ATTEMPT_TIMEOUT_S: Final = 10.0
DRAIN_TIMEOUT_S: Final = 5.0  # how long stopping the server waits for deliveries in flight
_RECENT: Final = 1024  # calls remembered as already handled (a call is notified once)
_RETRYABLE: Final = frozenset({408, 425, 429})
_USER_AGENT: Final = f"voicecall-rt/{__version__}"


class Notifier:
    """Watches the hub for settled calls and delivers each one's result, once.

    `start()` subscribes (call it before calls can settle); `stop()` gives deliveries in
    flight `DRAIN_TIMEOUT_S` to finish, then cancels them (recorded as failed).
    """

    def __init__(
        self, settings: NotifySettings, store: Store, hub: Hub, cost_of: CostOf | None = None
    ) -> None:
        assert settings.url is not None and settings.token is not None
        self._cost_of = cost_of
        self._url = settings.url
        self._token = settings.token
        self._format = settings.format
        self._store = store
        self._hub = hub
        self._queue: asyncio.Queue[dict[str, Any]] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None
        self._stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._results: OrderedDict[str, asyncio.Future[bool]] = OrderedDict()

    def start(self) -> None:
        # Our own session: no cookies kept from a receiver, no shared connection limits.
        self._http = aiohttp.ClientSession(
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=ATTEMPT_TIMEOUT_S),
            headers={"User-Agent": _USER_AGENT},
        )
        self._queue = self._hub.follow(ALL_CALLS)
        self._watcher = asyncio.create_task(self._watch(self._queue), name="notify-watcher")

    async def stop(self, drain_s: float = DRAIN_TIMEOUT_S) -> None:
        if self._watcher is None:
            return
        assert self._queue is not None
        # Calls settled just before (the manager's shutdown) are still delivered.
        while not self._queue.empty():
            self._consider(self._queue.get_nowait())
        self._watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._watcher
        self._watcher = None
        self._hub.unfollow(self._queue)
        self._stopping.set()  # no more waiting between attempts
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=drain_s)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def wait_delivery(self, call_id: str) -> bool:
        """Wait until the result of `call_id` was delivered (True) or given up on (False)."""
        return await asyncio.shield(self._result(call_id))

    # ---- watching ------------------------------------------------------------------

    async def _watch(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        while True:
            self._consider(await queue.get())

    def _consider(self, entry: dict[str, Any]) -> None:
        kind = entry.get("kind")
        # `settled` (the journal's) and a terminal `call.status` (the manager's) both mean
        # the call is over; either is enough, should the hub have dropped the other.
        if kind not in ("call.status", "settled"):
            return
        data = entry.get("data") or {}
        try:
            if not CallStatus(str(data.get("status"))).terminal:
                return
        except ValueError:
            return
        call_id = str(entry.get("call_id", ""))
        if not call_id or call_id in self._seen:
            return
        self._seen[call_id] = None
        while len(self._seen) > _RECENT:
            self._seen.popitem(last=False)
        task = asyncio.create_task(self._deliver(call_id), name=f"notify-{call_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _result(self, call_id: str) -> asyncio.Future[bool]:
        future = self._results.get(call_id)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._results[call_id] = future
            while len(self._results) > _RECENT:
                self._results.popitem(last=False)
        return future

    def _finish(self, call_id: str, delivered: bool) -> None:
        future = self._result(call_id)
        if not future.done():
            future.set_result(delivered)

    # ---- delivering ----------------------------------------------------------------

    async def _deliver(self, call_id: str) -> None:
        record: CallRecord | None = None
        try:
            record = await self._store.get_call(call_id)
            if record is None:
                return
            lines = await self._store.transcript(call_id)
            delivered = await self._attempts(record, lines)
            self._finish(call_id, delivered)
        except asyncio.CancelledError:
            if record is not None:
                self._event(record, "notify.failed", reason="server stopped before delivery")
            self._finish(call_id, False)
            raise
        except Exception:
            log.exception("call %s: notify delivery failed unexpectedly", call_id)
            if record is not None:
                with contextlib.suppress(Exception):
                    self._event(record, "notify.failed", reason="internal error")
            self._finish(call_id, False)

    def _payload(self, record: CallRecord, lines: list[TranscriptLine], delivery_id: str) -> bytes:
        cost = call_cost(record, self._cost_of)
        if self._format == "generic":
            return orjson.dumps(build_generic(record, lines, delivery_id, cost))
        return orjson.dumps(build_openclaw(record, lines, cost))

    def _headers(self, body: bytes, delivery_id: str) -> dict[str, str]:
        token = self._token.get_secret_value()
        headers = {"Content-Type": "application/json", DELIVERY_HEADER: delivery_id}
        if self._format == "generic":
            timestamp = str(int(time.time()))
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = sign(token, timestamp, body)
        else:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    async def _attempts(self, record: CallRecord, lines: list[TranscriptLine]) -> bool:
        assert self._http is not None
        delivery_id = uuid.uuid4().hex  # the same on every attempt: receivers can dedupe
        body = self._payload(record, lines, delivery_id)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            status: int | None = None
            retry_after: str | None = None
            error: str | None = None
            try:
                async with self._http.post(
                    self._url,
                    data=body,
                    headers=self._headers(body, delivery_id),  # signed afresh each time
                    allow_redirects=False,
                ) as response:
                    status = response.status
                    retry_after = response.headers.get("Retry-After")
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
            if status is not None and 200 <= status < 300:
                self._event(record, "notify.attempt", attempt=attempt, status=status)
                self._event(record, "notify.delivered", attempts=attempt, status=status)
                log.info("call %s: result delivered (attempt %d)", record.id, attempt)
                return True
            retryable = status is None or status in _RETRYABLE or status >= 500
            last = attempt == MAX_ATTEMPTS
            delay = None if (last or not retryable) else _backoff(attempt, retry_after)
            outcome: dict[str, Any] = {"status": status} if status is not None else {"error": error}
            if delay is not None:
                outcome["retry_in_s"] = round(delay, 3)
            self._event(record, "notify.attempt", attempt=attempt, **outcome)
            if delay is None:
                why = f"HTTP {status}" if status is not None else str(error)
                reason = f"gave up after {attempt} attempts ({why})" if retryable else why
                if status is not None and 300 <= status < 400:
                    reason += ": redirects are not followed"
                self._event(record, "notify.failed", attempts=attempt, reason=reason)
                log.warning("call %s: result not delivered: %s", record.id, reason)
                return False
            try:
                async with asyncio.timeout(delay):
                    await self._stopping.wait()
            except TimeoutError:
                continue
            reason = "server stopped before delivery"
            self._event(record, "notify.failed", attempts=attempt, reason=reason)
            return False
        return False  # pragma: no cover - the loop returns on its last attempt

    def _event(self, record: CallRecord, kind: str, **data: Any) -> None:
        self._store.add_event(record.id, now_ms() - record.created_at, kind, data)


def _backoff(attempt: int, retry_after: str | None) -> float:
    delay = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2.0 ** (attempt - 1))
    if retry_after is not None:
        with contextlib.suppress(ValueError):
            delay = max(delay, min(BACKOFF_MAX_S, float(int(retry_after.strip()))))
    return delay
