"""What one fake Realtime session sends on its socket: server events, errors and refusals.

Each server event gets a fresh `event_id`, is checked against the SDK's types when the server
asks for it (`FakeRealtimeServer.check_events`), and is recorded in `sent` in wire order. A
client event the real API would refuse is answered with an `error` that echoes its
`event_id`, and kept in `invalid` unless it only lost a race (`realtime_rules.RACE_CODES`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from voicecall_rt.simulator.openai import realtime_rules
from voicecall_rt.simulator.openai.client_event_check import ClientEventProblem

if TYPE_CHECKING:
    from voicecall_rt.simulator.openai.server import FakeRealtimeServer

__all__ = ["JSON", "SessionGone", "Wire", "dumps"]

log = logging.getLogger(__name__)

JSON = dict[str, Any]


def dumps(obj: object) -> str:
    return orjson.dumps(obj).decode()


class SessionGone(Exception):
    """The socket closed under us; whoever was sending just stops."""


class Wire:
    """The sending side of one session: `sent` (every server event, as it went out) and
    `invalid` ((event, reason) pairs the real API would refuse)."""

    def __init__(
        self, server: FakeRealtimeServer, ws: web.WebSocketResponse, session_id: str
    ) -> None:
        self._server = server
        self._ws = ws
        self.session_id = session_id
        self.sent: list[JSON] = []
        self.invalid: list[tuple[JSON, str]] = []
        self._send_lock = asyncio.Lock()

    async def emit(self, type_: str, **fields: Any) -> JSON:
        event: JSON = {"type": type_, "event_id": self._server.new_id("event_"), **fields}
        if self._server.check_events:
            self._server.check_sent(event)
        # One lock per socket: the reader and the response task both send, and event order
        # on the wire must match the order we record.
        async with self._send_lock:
            if self._ws.closed:
                raise SessionGone
            try:
                await self._ws.send_str(dumps(event))
            except ConnectionResetError as exc:  # aiohttp's ClientConnectionResetError too
                raise SessionGone from exc
            self.sent.append(event)
        await self._server.notify()
        return event

    async def error(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        event_id: str | None = None,
        type_: str = "invalid_request_error",
    ) -> None:
        error = {
            "type": type_,
            "code": code,
            "message": message,
            "param": param,
            "event_id": event_id,
        }
        await self.emit("error", error=error)

    async def refuse(self, event: JSON, event_id: str | None, problem: ClientEventProblem) -> None:
        """Answer a client event the real API would refuse, and keep it on record unless it
        is only a race a correct client can lose."""
        if problem.code not in realtime_rules.RACE_CODES:
            log.warning(
                "session %s: refused %s: %s", self.session_id, event.get("type"), problem.message
            )
            self.invalid.append((event, problem.message))
        await self.error(problem.message, code=problem.code, param=problem.param, event_id=event_id)

    async def reject_frame(self, record: JSON, reason: str) -> None:
        """A frame that is no JSON object at all (binary, unparsable)."""
        self.invalid.append((record, reason))
        await self.error(
            f"Invalid client event: {reason}. Send JSON text frames.", code="invalid_json"
        )
