"""A model session's inbox is bounded: past a mark the model's socket is not read.

Model messages are handed over by a socket callback (model/link.py); whatever the session's
task has not handed to the call yet waits in the inbox. A stalled call must push back on the
model through TCP, not grow a queue without end (docs/design.md §4: bounded buffers
everywhere). Driven without sockets: a stand-in link and listener.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from voicecall_rt.config import Settings
from voicecall_rt.model.realtime_session import (
    INBOX_HIGH,
    INBOX_LOW,
    RealtimeBackend,
    RealtimeSession,
)
from voicecall_rt.model.session import OpenedSession
from voicecall_rt.prompts import TOOLS

TOTAL = INBOX_HIGH + 100


class _Link:
    """Stands in for ModelLink: records what the session asks of the socket."""

    closed = False

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.on_text: Callable[[bytes], None] | None = None
        self.on_closed: Callable[[], None] | None = None

    def attach(self, on_text: Callable[[bytes], None], on_closed: Callable[[], None]) -> None:
        self.on_text, self.on_closed = on_text, on_closed

    def pause_reading(self) -> None:
        self.calls.append("pause")

    def resume_reading(self) -> None:
        self.calls.append("resume")


class _Listener:
    """Checks, as each message is handed on, what the socket was told so far."""

    def __init__(self, link: _Link) -> None:
        self.link = link
        self.handled: list[int] = []
        self.backlog: list[int] = []

    def on_backlog(self, waiting: int) -> None:
        self.backlog.append(waiting)

    async def on_rate_limits(self, limits: list[Any]) -> None:
        self.handled.append(limits[0]["n"])
        waiting = TOTAL - len(self.handled)
        # Resumed once the inbox is down to the low mark, not before.
        assert self.link.calls == (["pause"] if waiting > INBOX_LOW else ["pause", "resume"])

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"unexpected call to {name}")


async def test_inbox_pauses_the_socket_at_the_high_mark_and_resumes_at_the_low() -> None:
    link = _Link()
    backend = RealtimeBackend(Settings(), "be brief", TOOLS, tap=None, on_cost=lambda ns: None)
    opened = OpenedSession(link=link, session_id="sess_1", lifetime_s=None, connect_ms=0)  # type: ignore[arg-type]
    session = RealtimeSession(backend, opened)
    listener = _Listener(link)
    session.listen(listener, listener, lambda: None)
    assert link.on_text is not None and link.on_closed is not None
    # The session's task has not started: everything waits in the inbox.
    for i in range(TOTAL):
        link.on_text(orjson.dumps({"type": "rate_limits.updated", "rate_limits": [{"n": i}]}))
    assert link.calls == ["pause"]  # once, at the mark, not once per message
    assert listener.backlog == [INBOX_HIGH]
    link.on_closed()  # the socket goes: what waits is still handed on, then run() returns
    await session.run()
    # In order, nothing lost.
    assert listener.handled == list(range(TOTAL))
