"""Opening a Realtime session the call can rely on: connect, configure, confirm.

A session is only ready once the server has *confirmed* the configuration: the server
answers `session.update` with `session.updated` or with an `error` naming the update's
`event_id`. A refused update leaves the server's defaults in force — 24 kHz PCM both ways,
no tools, no instructions — so a call that went on would play static to the callee and
lose its safety rules. So nothing is relayed until `session.updated` shows `audio/pcmu`
both ways; anything else raises `SessionRefused` with OpenAI's own message.

The same path opens the first session (pre-warm, hidden behind the ringing) and every
renewed one (`call/renewal.py`), so a renewed session is configured exactly like the
first. While it is being opened the link's messages go to this module's `_Setup`; the
caller then `attach`es the link to its own reader, taking over whatever came early.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from voicecall_rt.model import realtime
from voicecall_rt.model.base import ModelConnectError, SessionRefused
from voicecall_rt.model.link import ModelLink

CONNECT_ATTEMPTS = 3
CONNECT_TIMEOUT_S = 10.0
READY_TIMEOUT_S = 10.0


@dataclass
class OpenedSession:
    """A configured session; its messages wait in `early` until the link is attached."""

    link: ModelLink
    session_id: str
    # Seconds until the server ends the session (60 minutes today), from `expires_at`;
    # None when the server did not say.
    lifetime_s: float | None
    connect_ms: int
    early: deque[bytes] = field(default_factory=deque)
    # Every message seen while opening (`session.created`, `session.updated`, …), for a
    # debug recording.
    seen: list[bytes] = field(default_factory=list)

    def attach(self, on_text: Callable[[bytes], None], on_closed: Callable[[], None]) -> None:
        """From now on the link's messages go to `on_text`; the early ones go first."""
        while self.early:
            on_text(self.early.popleft())
        self.link.attach(on_text, on_closed)


class _Setup:
    """Where a link's messages wait while its session is being opened."""

    def __init__(self) -> None:
        self.messages: deque[bytes] = deque()
        self.closed = False
        self._ready = asyncio.Event()

    def on_text(self, data: bytes) -> None:
        self.messages.append(data)
        self._ready.set()

    def on_closed(self) -> None:
        self.closed = True
        self._ready.set()

    async def next(self) -> tuple[bytes, dict[str, Any]]:
        """The next message and its parsed event; ModelConnectError once the link is gone."""
        while not self.messages:
            if self.closed:
                raise ModelConnectError("the model closed the connection while opening a session")
            self._ready.clear()
            await self._ready.wait()
        raw = self.messages.popleft()
        try:
            event = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise ModelConnectError("the model sent a malformed event while opening") from None
        if not isinstance(event, dict):
            raise ModelConnectError("the model sent a malformed event while opening")
        return raw, event


@dataclass(frozen=True)
class SessionTarget:
    """Where and as whom to open sessions (from `openai.*` settings)."""

    url: str
    model: str
    api_key: str


async def open_session(
    target: SessionTarget,
    update: dict[str, Any],
    *,
    on_retry: Callable[[int, str], None],
    attempts: int = CONNECT_ATTEMPTS,
) -> OpenedSession:
    """Connect (retrying what a retry can mend), send `update` (already stamped with its
    `event_id`), and return once the server confirmed it.

    Raises SessionRefused (the server said no: retrying would not help) or
    ModelConnectError (it could not be reached or did not answer in time)."""
    started = time.monotonic()
    last: ModelConnectError | None = None
    for attempt in range(attempts):
        setup = _Setup()
        try:
            link = await ModelLink.connect(
                target.url,
                model=target.model,
                api_key=target.api_key,
                on_text=setup.on_text,
                on_closed=setup.on_closed,
                timeout_s=CONNECT_TIMEOUT_S,
            )
        except ModelConnectError as exc:
            last = exc
            on_retry(attempt + 1, str(exc))
            await asyncio.sleep(0.25 * (attempt + 1))
            continue
        try:
            async with asyncio.timeout(READY_TIMEOUT_S):
                opened = await _configure(link, setup, update)
        except TimeoutError:
            await link.close()
            raise ModelConnectError("the model did not confirm the session in time") from None
        except BaseException:
            # Refused, or the call ended while waiting (cancelled): no socket is left open.
            await link.close()
            raise
        opened.connect_ms = round((time.monotonic() - started) * 1000)
        return opened
    assert last is not None
    raise last


async def _configure(link: ModelLink, setup: _Setup, update: dict[str, Any]) -> OpenedSession:
    seen: list[bytes] = []
    raw, event = await setup.next()
    seen.append(raw)
    if event.get("type") == "error":
        # A refused upgrade (unknown model, no access) answers with an error, then closes.
        raise SessionRefused(realtime.error_text(event.get("error")))
    if event.get("type") != "session.created":
        raise ModelConnectError("the model did not open a session")
    session = event.get("session") if isinstance(event.get("session"), dict) else {}
    assert isinstance(session, dict)
    expires_at = session.get("expires_at")
    # `expires_at` is in whole seconds (of the server's clock): a second early is safe.
    lifetime = (
        float(expires_at) - time.time() - 1.0
        if isinstance(expires_at, int | float) and expires_at > 0
        else None
    )
    link.send(realtime.encode(update))
    update_id = update.get("event_id")
    while True:
        raw, event = await setup.next()
        seen.append(raw)
        kind = event.get("type")
        if kind == "session.updated":
            problem = realtime.pcmu_both_ways(event.get("session"))
            if problem is not None:
                raise SessionRefused(problem)
            return OpenedSession(
                link=link,
                session_id=str(session.get("id") or ""),
                lifetime_s=lifetime,
                connect_ms=0,
                early=setup.messages,
                seen=seen,
            )
        if kind == "error":
            error = event.get("error")
            answers = error.get("event_id") if isinstance(error, dict) else None
            if answers in (None, update_id):
                raise SessionRefused(realtime.error_text(error))
        # Anything else before the confirmation (rate limits, …) changes nothing here.
