"""Results pushed back: when a call settles, POST its result to `notify.url`.

What is sent, in either of the two formats, is notify_payload.py. The notifier learns
that a call settled from the live hub and reads the call back from the store, so the call
manager knows nothing of it. Each delivery is a background task: one body and one
`Idempotency-Key` for all its attempts (the OpenClaw gateway replays a repeated key
instead of running the agent twice), bounded attempts with exponential backoff on network
errors, 408/409/425/429 and 5xx (a `Retry-After` is honoured up to the cap), none on other
answers; every attempt and the final verdict go into the call's events, with the
receiver's reason when it gave one. The token is never recorded or logged.
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
from voicecall_rt.config_notify import NotifySettings
from voicecall_rt.notify_payload import (
    DELIVERY_HEADER,
    IDEMPOTENCY_HEADER,
    MAX_BODY_BYTES,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    BodyOf,
    CostOf,
    build_generic,
    build_openclaw,
    call_cost,
    encode_within,
    sign,
)
from voicecall_rt.store.base import Store

__all__ = ["Notifier"]

log = logging.getLogger(__name__)

MAX_ATTEMPTS: Final = 5
BACKOFF_BASE_S = 1.0  # 1, 2, 4, 8 s between the five attempts (module-level: tests shrink it)
BACKOFF_MAX_S: Final = 60.0
ATTEMPT_TIMEOUT_S: Final = 10.0
DRAIN_TIMEOUT_S: Final = 5.0  # how long stopping the server waits for deliveries in flight
BODY_LIMIT_BYTES = MAX_BODY_BYTES  # module-level: tests shrink it
_RECENT: Final = 1024  # calls remembered as already handled (a call is notified once)
# 409: the gateway's "target session changed" or "hook configuration changed; retry
# request"; admission failures are not cached, so a retry with the same key may run.
_RETRYABLE: Final = frozenset({408, 409, 425, 429})
_ANSWER_READ_BYTES: Final = 4096  # of a receiver's answer, for its reason or run id
_DETAIL_MAX_CHARS: Final = 300
# What a final refusal means, added to the receiver's own reason.
_HINTS: Final = {
    401: "the receiver refused notify.token",
    403: "the receiver refused notify.token",
    404: "nothing answers at notify.url (for OpenClaw: hooks.enabled and hooks.path)",
    413: "the receiver refused the body's size",
}
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
        # The gateway's routing fields, sent with each openclaw body as they are.
        routing = {
            "agentId": settings.agent_id,
            "channel": settings.channel,
            "to": settings.to,
            "accountId": settings.account_id,
        }
        self._route = {key: value for key, value in routing.items() if value is not None}
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

    def _payload(
        self, record: CallRecord, lines: list[TranscriptLine], delivery_id: str
    ) -> bytes | None:
        cost = call_cost(record, self._cost_of)
        nonce = delivery_id[:8]  # fences the transcript in the message (notify_payload.py)
        build: BodyOf
        if self._format == "generic":

            def build(max_lines: int, with_details: bool) -> dict[str, Any]:
                return build_generic(
                    record,
                    lines,
                    delivery_id,
                    cost,
                    nonce=nonce,
                    max_lines=max_lines,
                    with_details=with_details,
                )

        else:

            def build(max_lines: int, with_details: bool) -> dict[str, Any]:
                del with_details  # the message clips the details itself
                return build_openclaw(
                    record, lines, cost, route=self._route, nonce=nonce, max_lines=max_lines
                )

        return encode_within(build, BODY_LIMIT_BYTES)

    def _headers(self, body: bytes, delivery_id: str) -> dict[str, str]:
        token = self._token.get_secret_value()
        headers = {"Content-Type": "application/json", IDEMPOTENCY_HEADER: delivery_id}
        if self._format == "generic":
            timestamp = str(int(time.time()))
            headers[DELIVERY_HEADER] = delivery_id
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = sign(token, timestamp, body)
        else:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    async def _attempts(self, record: CallRecord, lines: list[TranscriptLine]) -> bool:
        assert self._http is not None
        delivery_id = uuid.uuid4().hex  # the same on every attempt: receivers can dedupe
        body = self._payload(record, lines, delivery_id)
        if body is None:  # only with a limit far below any real one: every part is clipped
            reason = f"the result does not fit in {BODY_LIMIT_BYTES} bytes"
            self._event(record, "notify.failed", attempts=0, reason=reason)
            return False
        for attempt in range(1, MAX_ATTEMPTS + 1):
            status: int | None = None
            retry_after: str | None = None
            error: str | None = None
            answer: _Answer = _Answer()
            try:
                async with self._http.post(
                    self._url,
                    data=body,
                    headers=self._headers(body, delivery_id),  # signed afresh each time
                    allow_redirects=False,
                ) as response:
                    status = response.status
                    retry_after = response.headers.get("Retry-After")
                    answer = await _read_answer(response, self._token.get_secret_value())
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
            if status is not None and 200 <= status < 300:
                delivered: dict[str, Any] = {"attempts": attempt, "status": status}
                if answer.run_id is not None:
                    delivered["run_id"] = answer.run_id  # the gateway's, to find its logs
                self._event(record, "notify.attempt", attempt=attempt, status=status)
                self._event(record, "notify.delivered", **delivered)
                log.info("call %s: result delivered (attempt %d)", record.id, attempt)
                return True
            retryable = status is None or status in _RETRYABLE or status >= 500
            last = attempt == MAX_ATTEMPTS
            delay = None if (last or not retryable) else _backoff(attempt, retry_after)
            outcome: dict[str, Any] = {"status": status} if status is not None else {"error": error}
            if answer.detail is not None:
                outcome["detail"] = answer.detail
            if delay is not None:
                outcome["retry_in_s"] = round(delay, 3)
            self._event(record, "notify.attempt", attempt=attempt, **outcome)
            if delay is None:
                why = f"HTTP {status}" if status is not None else str(error)
                reason = f"gave up after {attempt} attempts ({why})" if retryable else why
                if status is not None and 300 <= status < 400:
                    reason += ": redirects are not followed"
                elif not retryable and status in _HINTS:
                    reason += f": {_HINTS[status]}"
                if not retryable and answer.detail is not None:
                    reason += f": {answer.detail}"
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


class _Answer:
    """What a receiver said besides its status: a reason for a refusal, a gateway run id."""

    __slots__ = ("detail", "run_id")

    def __init__(self, detail: str | None = None, run_id: str | None = None) -> None:
        self.detail = detail
        self.run_id = run_id


async def _read_answer(response: aiohttp.ClientResponse, token: str) -> _Answer:
    """The gateway answers `{ok, runId}` or `{ok: false, error}`, early refusals in plain
    text; any receiver may say anything, so only a bounded, one-line, printable excerpt
    is kept (and never the token, should a receiver echo it)."""
    raw = bytearray()
    async for chunk in response.content.iter_chunked(1024):
        raw += chunk
        if len(raw) >= _ANSWER_READ_BYTES:
            break
    text = bytes(raw[:_ANSWER_READ_BYTES]).decode("utf-8", errors="replace")
    detail: Any = text
    run_id: Any = None
    with contextlib.suppress(orjson.JSONDecodeError):
        data = orjson.loads(text)
        detail = None
        if isinstance(data, dict):
            detail, run_id = data.get("error"), data.get("runId")
    return _Answer(_excerpt(detail, token), _excerpt(run_id, token))


def _excerpt(value: Any, token: str) -> str | None:
    if not isinstance(value, str):
        return None
    text = "".join(ch if ch.isprintable() else " " for ch in value)
    text = " ".join(text.split()).replace(token, "[redacted]")
    if not text:
        return None
    return text if len(text) <= _DETAIL_MAX_CHARS else text[: _DETAIL_MAX_CHARS - 1] + "…"


def _backoff(attempt: int, retry_after: str | None) -> float:
    delay = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2.0 ** (attempt - 1))
    if retry_after is not None:
        with contextlib.suppress(ValueError):
            delay = max(delay, min(BACKOFF_MAX_S, float(int(retry_after.strip()))))
    return delay
