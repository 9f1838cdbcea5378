"""A strict fake of the OpenClaw gateway's HTTP hooks, for the notify webhook's tests.

It serves `POST <hooks.path>/agent` the way OpenClaw 2026.9 does (docs/gateway/
config-hooks.md, "Hook HTTP contract" and "Hook agent payload", and the handler they
describe), in the same order of checks:

- a `token` query parameter: 400 (even with a valid header); a method other than POST: 405;
- the hook token from `Authorization: Bearer` (a nonempty one wins) or `x-openclaw-token`:
  missing or wrong is 401, and after 20 failures from one client within 60 s further bad
  attempts are 429 with `Retry-After` for 60 s (a valid token resets the count; loopback
  is not exempt). The clock is injectable, so this is testable without waiting;
- the body: at most 256 KiB (413), JSON (400), an empty body is `{}`;
- the agent payload: `message` required, `channel` and `to` together or neither, no
  `channel: "last"`, `accountId` only with both, a known and allowed `agentId`, the
  session-key policy (`allowRequestSessionKey`, prefixes), `sessionMode` (the payload's own
  rules are openclaw_hook_payload.py's);
- replays: the same idempotency key (`Idempotency-Key`, then `X-OpenClaw-Idempotency-Key`,
  then the payload's `idempotencyKey`; trimmed, at most 256 characters) with the same
  token and dispatch fields answers the first run's `runId` again and runs nothing.

Only `/agent` exists (no mappings, no `/wake`): any other path under the base is 404.
A run is admitted at once with a fresh `runId`; tests may script what the next admissions
answer instead (the gateway's 409, 502, 503, or what a proxy in front may say, 429 with a
`Retry-After`); a failed admission is not remembered for replays, as in the gateway. What
arrived and what ran are kept in `requests` and `runs`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import math
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import web
from multidict import CIMultiDict

from voicecall_rt.simulator.openclaw_hook_payload import (
    Refused,
    agent_fields,
    idempotency_key,
)

__all__ = ["AgentRun", "FakeGateway", "HookRequest", "Scripted"]

MAX_BODY_BYTES: Final = 256 * 1024
AUTH_FAILURE_LIMIT: Final = 20
AUTH_FAILURE_WINDOW_S: Final = 60.0
_DRAIN_MAX_BYTES: Final = 16 * 1024 * 1024  # read (and drop) past the limit, up to this
_QUERY_AUTH_ERROR: Final = (
    "Hook token must be provided via Authorization: Bearer <token> or X-OpenClaw-Token "
    "header (query parameters are not allowed)."
)
_SESSION_KEY_POLICY_ERROR: Final = (
    "sessionKey is disabled for externally supplied hook payload values; set "
    "hooks.allowRequestSessionKey=true to enable"
)
# The gateway's own texts for its admission failures.
ADMISSION_ERRORS: Final = {
    409: "hook agent run was rejected because the target session changed",
    502: "hook agent run failed before entering the agent runner",
    503: "hook agent run did not start before admission timeout",
}


@dataclass(frozen=True)
class HookRequest:
    """One request as it arrived, and the status it was answered with."""

    method: str
    path: str
    query: str
    headers: CIMultiDict[str]
    body: bytes
    status: int

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class AgentRun:
    """An admitted agent run: the payload as the gateway resolved it."""

    run_id: str
    message: str
    name: str
    agent_id: str
    session_key: str
    fields: dict[str, Any]
    idempotency_key: str | None


@dataclass(frozen=True)
class Scripted:
    """What the next admission answers instead of running (`error` defaults to the
    gateway's own text for 409, 502 and 503)."""

    status: int
    error: str | None = None
    retry_after_s: int | None = None


@dataclass
class FakeGateway:
    """`async with FakeGateway(token) as gw:` then POST to `gw.agent_url`."""

    token: str
    path: str = "/hooks"
    agents: tuple[str, ...] = ("main",)
    default_agent: str = "main"
    allowed_agent_ids: tuple[str, ...] | None = None
    allow_request_session_key: bool = False
    allowed_session_key_prefixes: tuple[str, ...] | None = None
    default_session_key: str | None = None
    channels: tuple[str, ...] = ("telegram", "whatsapp", "discord")
    accounts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    max_body_bytes: int = MAX_BODY_BYTES
    clock: Callable[[], float] = time.monotonic
    # While set and not yet open, requests wait for it before they are answered.
    hold: asyncio.Event | None = None
    requests: list[HookRequest] = field(default_factory=list)
    runs: list[AgentRun] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _script: list[Scripted] = field(default_factory=list)
    _failures: dict[str, list[float]] = field(default_factory=dict)
    _locked_until: dict[str, float] = field(default_factory=dict)
    _replays: dict[str, str] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    base_url: str = ""

    @property
    def agent_url(self) -> str:
        return f"{self.base_url}{self.path}/agent"

    def script(self, answers: Iterable[Scripted | int]) -> None:
        """Answer the next admissions with these, in order, then admit again."""
        self._script.extend(a if isinstance(a, Scripted) else Scripted(a) for a in answers)

    async def __aenter__(self) -> FakeGateway:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=5.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.hold is not None:
            self.hold.set()  # nothing waits past the test
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ---- the handler, in the gateway's order of checks -----------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await _read_body(request, self.max_body_bytes + 1)
        self.arrived.set()
        if self.hold is not None:
            await self.hold.wait()
        response = self._answer(request, body)
        self.requests.append(
            HookRequest(
                method=request.method,
                path=request.path,
                query=request.query_string,
                headers=CIMultiDict(request.headers),
                body=body,
                status=response.status,
            )
        )
        return response

    def _answer(self, request: web.Request, body: bytes) -> web.Response:
        if request.path != self.path and not request.path.startswith(self.path + "/"):
            return _text(404, "Not Found")
        if "token" in request.query:
            return _text(400, _QUERY_AUTH_ERROR)
        if request.method != "POST":
            return _text(405, "Method Not Allowed", Allow="POST")
        client = request.remote or ""
        token = _hook_token(request)
        if token is None or not hmac.compare_digest(token.encode(), self.token.encode()):
            retry_after = self._throttled(client)
            if retry_after is not None:
                return _text(429, "Too Many Requests", **{"Retry-After": str(retry_after)})
            self._record_failure(client)
            return _text(401, "Unauthorized")
        self._failures.pop(client, None)
        self._locked_until.pop(client, None)
        sub_path = request.path.removeprefix(self.path).strip("/")
        if not sub_path:
            return _text(404, "Not Found")
        if len(body) > self.max_body_bytes:
            return _json(413, {"ok": False, "error": "payload too large"})
        try:
            payload = json.loads(body) if body.strip() else {}
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return _json(400, {"ok": False, "error": str(exc)})
        if sub_path != "agent":  # no mappings configured
            return _text(404, "Not Found")
        try:
            return self._agent(request, token, payload if isinstance(payload, dict) else {})
        except Refused as refused:
            return _json(refused.status, {"ok": False, "error": refused.error})

    def _agent(self, request: web.Request, token: str, payload: dict[str, Any]) -> web.Response:
        wait = payload.get("waitForCompletion")
        if wait is not None and not isinstance(wait, bool):
            raise Refused(400, "waitForCompletion must be boolean")
        fields = agent_fields(payload, self.channels)
        agent_id = self._target_agent(fields.pop("agentId"))
        requested_key = fields.pop("sessionKey")
        if fields["sessionMode"] == "persistent" and not requested_key:
            raise Refused(400, "sessionKey is required when sessionMode is persistent")
        session_key = self._session_key(requested_key)
        if fields["sessionMode"] == "persistent" and not self.allowed_session_key_prefixes:
            raise Refused(
                400,
                "hooks.allowedSessionKeyPrefixes is required when direct hook sessionMode"
                " is persistent",
            )
        if fields["accountId"] is not None:
            known = self.accounts.get(str(fields["channel"]), ())
            if fields["accountId"] not in known:
                raise Refused(400, f"Channel {fields['channel']} did not resolve an account.")
        key = idempotency_key(request, payload)
        scope = {
            "agentId": agent_id,
            "sessionKey": requested_key or self.default_session_key,
            **fields,
        }
        replay = _replay_key(token, key, scope) if key is not None else None
        if replay is not None and replay in self._replays:
            return _json(200, {"ok": True, "runId": self._replays[replay]})
        if self._script:
            scripted = self._script.pop(0)
            headers = {}
            if scripted.retry_after_s is not None:
                headers["Retry-After"] = str(scripted.retry_after_s)
            error = scripted.error or ADMISSION_ERRORS.get(scripted.status, "scripted")
            return _json(scripted.status, {"ok": False, "error": error}, **headers)
        run_id = uuid.uuid4().hex
        message, name = fields.pop("message"), fields.pop("name")
        self.runs.append(AgentRun(run_id, message, name, agent_id, session_key, fields, key))
        if replay is not None:
            self._replays[replay] = run_id
        answer: dict[str, Any] = {"ok": True, "runId": run_id}
        if wait:
            answer["completion"] = {"status": "ok", "replyDisposition": "visible"}
        return _json(200, answer)

    def _target_agent(self, requested: str | None) -> str:
        agent_id = self.default_agent
        if requested is not None:
            agent_id = requested.lower()
            if agent_id not in self.agents:
                raise Refused(400, f'unknown agentId "{agent_id}"')
        allowed = self.allowed_agent_ids
        if allowed is not None and "*" not in allowed and agent_id not in allowed:
            raise Refused(400, "agentId is not allowed by hooks.allowedAgentIds")
        return agent_id

    def _session_key(self, requested: str | None) -> str:
        prefixes = [p.lower() for p in self.allowed_session_key_prefixes or () if p.strip()]
        if requested:
            if not self.allow_request_session_key:
                raise Refused(400, _SESSION_KEY_POLICY_ERROR)
            key = requested
        else:
            key = self.default_session_key or f"hook:{uuid.uuid4()}"
        if prefixes and not key.lower().startswith(tuple(prefixes)):
            shown = ", ".join(self.allowed_session_key_prefixes or ())
            raise Refused(400, f"sessionKey must start with one of: {shown}")
        return key

    # ---- the failed-authentication limiter (per client, on `clock`) ----------------------

    def _throttled(self, client: str) -> int | None:
        now = self.clock()
        until = self._locked_until.get(client)
        if until is not None and now >= until:
            del self._locked_until[client]
            self._failures.pop(client, None)
            until = None
        recent = [t for t in self._failures.get(client, []) if t > now - AUTH_FAILURE_WINDOW_S]
        self._failures[client] = recent
        if until is None and len(recent) >= AUTH_FAILURE_LIMIT:
            until = self._locked_until[client] = now + AUTH_FAILURE_WINDOW_S
        if until is None:
            return None
        return max(1, math.ceil(until - now))

    def _record_failure(self, client: str) -> None:
        self._failures.setdefault(client, []).append(self.clock())
        if len(self._failures[client]) >= AUTH_FAILURE_LIMIT:
            self._locked_until[client] = self.clock() + AUTH_FAILURE_WINDOW_S


async def _read_body(request: web.Request, keep: int) -> bytes:
    """The first `keep` bytes; the rest is read and dropped, as the gateway does."""
    data = bytearray()
    seen = 0
    while seen < _DRAIN_MAX_BYTES:
        chunk = await request.content.read(64 * 1024)
        if not chunk:
            break
        seen += len(chunk)
        if len(data) < keep:
            data += chunk[: keep - len(data)]
    return bytes(data)


def _hook_token(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization", "").strip()
    if auth.lower().startswith("bearer ") and auth[7:].strip():
        return auth[7:].strip()
    return request.headers.get("x-openclaw-token", "").strip() or None


def _replay_key(token: str, key: str, scope: dict[str, Any]) -> str:
    digest = hashlib.sha256()
    for part in (token, "agent", json.dumps(scope, sort_keys=True), key):
        digest.update(hashlib.sha256(part.encode()).digest())
    return digest.hexdigest()


def _text(status: int, text: str, **headers: str) -> web.Response:
    return web.Response(
        status=status, text=text, content_type="text/plain", charset="utf-8", headers=headers
    )


def _json(status: int, data: dict[str, Any], **headers: str) -> web.Response:
    return web.json_response(data, status=status, headers=headers or None)
