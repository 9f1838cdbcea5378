"""`FakeRealtimeServer`: the fake OpenAI Realtime (GA) server on 127.0.0.1, its knobs and
test hooks, `/v1/models`, the WebSocket upgrade, and the script cursors every session shares
(see the package docstring for what the fake models and what it leaves out)."""

from __future__ import annotations

import asyncio
import copy
import logging
import random
import string
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Final, Self

from aiohttp import WSCloseCode, web

from voicecall_rt.simulator.openai import model_errors, realtime_rules
from voicecall_rt.simulator.openai.handshake import auth_failure, openai_error
from voicecall_rt.simulator.openai.rate_limits import DEFAULT_RATE_LIMITS, RateLimitBook
from voicecall_rt.simulator.openai.server_event_check import check_server_event
from voicecall_rt.simulator.openai.session import FakeSession
from voicecall_rt.simulator.openai.wire import JSON, dumps
from voicecall_rt.simulator.scenario import CallerTranscript, Fail, ModelAction, ModelScript

__all__ = ["SESSION_LIFETIME_S", "FakeRealtimeServer"]

log = logging.getLogger(__name__)

SESSION_LIFETIME_S: Final = 3600.0  # GA sessions end at 60 min (docs/protocols.md §1.10)
_MAX_MSG_BYTES: Final = 16 * 1024 * 1024  # one append may carry up to 15 MiB of audio
_MODEL_CREATED: Final = 1756339200  # 2025-08-28, gpt-realtime's GA date
_ID_ALPHABET: Final = string.ascii_letters + string.digits


class FakeRealtimeServer:
    """Fake OpenAI Realtime (GA) WebSocket + `/v1/models` REST server on 127.0.0.1.

    Usage: `async with FakeRealtimeServer(script) as server:` then point the client at
    `server.realtime_url` / `server.rest_base_url` with `Authorization: Bearer <api_key>`.

    Knobs (also plain attributes, read when a session or response needs them, so a test
    holding a `SimWorld` can change them before placing a call):
    - `models`: model ids served (default: every Realtime model the openai SDK lists).
    - `delta_ms`, `pace`: audio per delta, and generation speed relative to real time.
    - `session_lifetime_s` (3600): then `session_expired` and close 1001.
    - `tail_deltas` (1): audio deltas still sent after a cancel.
    - `late_transcripts` (True): caller transcripts after the response they started begins.
    - `rate_limits` ({"requests": 5000, "tokens": 40000}): `rate_limits.updated` entries
      ({} sends none).
    - `check_events` (True): validate every sent event with the SDK (see `malformed`).
    - `refuse_next` / `refuse_with`: refuse the next N upgrades with this failure (HTTP status
      from `model_errors.connect_status`); `drop_sessions()` kills open sockets;
      `expire_sessions()` ends their lifetime now.
    """

    def __init__(
        self,
        script: ModelScript,
        *,
        api_key: str = "sk-test",
        models: tuple[str, ...] = realtime_rules.REALTIME_MODELS,
        delta_ms: int = 100,
        pace: float = 0.0,
        session_lifetime_s: float = SESSION_LIFETIME_S,
        tail_deltas: int = 1,
        late_transcripts: bool = True,
        rate_limits: Mapping[str, int] = DEFAULT_RATE_LIMITS,
        check_events: bool = True,
    ) -> None:
        self.script = script
        self.api_key = api_key
        self.models = models
        self.delta_ms = delta_ms
        self.pace = pace
        self.session_lifetime_s = session_lifetime_s
        self.tail_deltas = tail_deltas
        self.late_transcripts = late_transcripts
        self.rate_book = RateLimitBook(rate_limits)
        self.check_events = check_events
        # (event, reason) for every sent event the SDK's types reject: a bug in this fake.
        self.malformed: list[tuple[JSON, str]] = []
        self.sessions: list[FakeSession] = []
        # Answer the next N WebSocket upgrade requests with an HTTP error (reconnect tests).
        self.refuse_next = 0
        self.refuse_with: Fail = model_errors.OVERLOADED
        self.refused = 0  # how many upgrades were refused that way
        self.turns_played = 0
        self.transcripts_used = 0
        self._changed = asyncio.Condition()
        # Seeded so ids (and so logs) are the same from run to run; not security relevant.
        self._rng = random.Random(0x5EED)  # noqa: S311
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._closed = False

    # ---- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("FakeRealtimeServer already started")
        app = web.Application()
        app.router.add_get("/v1/models", self._list_models)
        app.router.add_get("/v1/models/{model_id}", self._get_model)
        app.router.add_get("/v1/realtime", self._realtime)
        # A short shutdown timeout: close() has already ended every session by then.
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        address = runner.addresses[0]
        self._port = int(address[1])
        log.info("fake Realtime server on 127.0.0.1:%d", self._port)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for session in list(self.sessions):
            if not session.closed.is_set():
                await session.close(WSCloseCode.GOING_AWAY, b"server shutting down")
        if self._runner is not None:
            await self._runner.cleanup()
        await self.notify()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeRealtimeServer not started")
        return self._port

    @property
    def realtime_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/realtime"

    @property
    def rest_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # ---- test hooks ------------------------------------------------------------------

    async def notify(self) -> None:
        """Wake `wait_for` callers: something changed."""
        async with self._changed:
            self._changed.notify_all()

    # The agreed test-hook signature takes a timeout (ruff would rather callers wrap it).
    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float = 10,  # noqa: ASYNC109
    ) -> None:
        """Return once `predicate()` is true, re-checked whenever anything happens."""
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(predicate)
        except TimeoutError as exc:
            raise TimeoutError(f"condition still false after {timeout}s") from exc

    async def drop_sessions(self) -> None:
        """Abruptly kill every open session's connection, as if the model side died."""
        await self._end_open_sessions(FakeSession.drop)

    async def expire_sessions(self) -> None:
        """Every open session reaches the end of its lifetime now (see `session_lifetime_s`)."""
        await self._end_open_sessions(FakeSession.expire)

    async def _end_open_sessions(self, end: Callable[[FakeSession], None]) -> None:
        open_sessions = [s for s in self.sessions if not s.closed.is_set()]
        for session in open_sessions:
            end(session)
        # Bounded so a regression here fails the test instead of hanging it.
        async with asyncio.timeout(5):
            for session in open_sessions:
                await session.closed.wait()

    @property
    def last_session(self) -> FakeSession:
        return self.sessions[-1]

    # ---- script cursors (shared by all sessions, see the package docstring) -----------

    def next_turn(self) -> tuple[ModelAction, ...]:
        if self.turns_played >= len(self.script.turns):
            return ()
        turn = self.script.turns[self.turns_played]
        self.turns_played += 1
        return turn

    def peek_caller_transcript(self) -> CallerTranscript:
        """The scripted words of the utterance being heard now ("" once the script is out)."""
        if self.transcripts_used >= len(self.script.caller_transcripts):
            return ""
        return self.script.caller_transcripts[self.transcripts_used]

    def next_caller_transcript(self) -> CallerTranscript:
        entry = self.peek_caller_transcript()
        if self.transcripts_used < len(self.script.caller_transcripts):
            self.transcripts_used += 1
        return entry

    def check_sent(self, event: JSON) -> None:
        """Record (and log) a server event the real API could not have sent."""
        problem = check_server_event(event)
        if problem is not None:
            log.error("fake model sent a malformed %s: %s", event.get("type"), problem)
            self.malformed.append((copy.deepcopy(event), problem))

    def new_id(self, prefix: str, length: int = 22) -> str:
        return prefix + "".join(self._rng.choice(_ID_ALPHABET) for _ in range(length))

    # ---- HTTP ------------------------------------------------------------------------

    def _model_object(self, model_id: str) -> JSON:
        return {"id": model_id, "object": "model", "created": _MODEL_CREATED, "owned_by": "system"}

    async def _list_models(self, request: web.Request) -> web.Response:
        failure = auth_failure(request, self.api_key)
        if failure is not None:
            return failure
        data = [self._model_object(m) for m in self.models]
        return web.json_response({"object": "list", "data": data}, dumps=dumps)

    async def _get_model(self, request: web.Request) -> web.Response:
        failure = auth_failure(request, self.api_key)
        if failure is not None:
            return failure
        model_id = request.match_info["model_id"]
        if model_id not in self.models:
            return openai_error(
                404,
                f"The model '{model_id}' does not exist or you do not have access to it.",
                type_="invalid_request_error",
                code="model_not_found",
            )
        return web.json_response(self._model_object(model_id), dumps=dumps)

    async def _realtime(self, request: web.Request) -> web.StreamResponse:
        if self.refuse_next > 0:
            self.refuse_next -= 1
            self.refused += 1
            await self.notify()
            refusal = self.refuse_with
            return openai_error(
                model_errors.connect_status(refusal),
                refusal.message,
                type_=refusal.type,
                code=refusal.code,
            )
        failure = auth_failure(request, self.api_key)
        if failure is not None:
            return failure
        ws = web.WebSocketResponse(max_msg_size=_MAX_MSG_BYTES, compress=False, heartbeat=None)
        if not ws.can_prepare(request).ok:
            return openai_error(
                400, "Expected a WebSocket upgrade request.", type_="invalid_request_error"
            )
        await ws.prepare(request)
        session = FakeSession(self, request, ws, self.new_id("sess_"))
        self.sessions.append(session)
        log.info("session %s opened (model %s)", session.id, session.model)
        await self.notify()
        await session.run()
        return ws
