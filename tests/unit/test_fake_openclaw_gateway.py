"""The fake OpenClaw gateway refuses what the real one refuses (docs/gateway/config-hooks.md:
"Hook HTTP contract", "Hook agent payload", "Hook retries and fan-out"), with the same
statuses and error texts, over a real socket."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest

from voicecall_rt.simulator.openclaw_gateway import (
    ADMISSION_ERRORS,
    AUTH_FAILURE_LIMIT,
    MAX_BODY_BYTES,
    FakeGateway,
    Scripted,
)

TOKEN = "gateway-hook-token-0123456789abcdef"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def gateway(**options: Any) -> AsyncIterator[tuple[FakeGateway, aiohttp.ClientSession]]:
    async with FakeGateway(TOKEN, **options) as gw, aiohttp.ClientSession() as http:
        yield gw, http


async def post(
    http: aiohttp.ClientSession,
    url: str,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> tuple[int, Any, Mapping[str, str]]:
    """(status, the JSON answer or the text one, headers)."""
    data = raw if raw is not None else json.dumps(body, separators=(",", ":")).encode()
    async with http.post(
        url, data=data, headers=BEARER if headers is None else headers
    ) as response:
        text = await response.text()
        kind = response.headers.get("Content-Type", "")
        answer = json.loads(text) if kind.startswith("application/json") else text
        return response.status, answer, response.headers


async def test_a_run_is_admitted_with_a_run_id() -> None:
    async with gateway() as (gw, http):
        status, answer, _ = await post(http, gw.agent_url, {"message": "hello", "name": "Test"})
        assert status == 200 and answer == {"ok": True, "runId": gw.runs[0].run_id}
        [run] = gw.runs
        assert (run.message, run.name, run.agent_id) == ("hello", "Test", "main")
        assert run.session_key.startswith("hook:")  # generated: no key was asked for
        assert run.fields["sessionMode"] == "isolated" and run.fields["deliver"] is True
        # x-openclaw-token works too; an empty bearer does not hide it.
        headers = {"Authorization": "Bearer ", "x-openclaw-token": TOKEN}
        status, _, _ = await post(http, gw.agent_url, {"message": "again"}, headers=headers)
        assert status == 200 and len(gw.runs) == 2


async def test_authentication_and_the_http_contract() -> None:
    async with gateway() as (gw, http):
        wrong = {"Authorization": "Bearer nope", "x-openclaw-token": TOKEN}  # bearer wins
        assert (await post(http, gw.agent_url, {"message": "m"}, headers=wrong))[:2] == (
            401,
            "Unauthorized",
        )
        assert (await post(http, gw.agent_url, {"message": "m"}, headers={}))[0] == 401
        # A token in the query is refused even next to a valid header.
        status, text, _ = await post(http, gw.agent_url + "?token=" + TOKEN, {"message": "m"})
        assert status == 400 and "query parameters are not allowed" in text
        async with http.get(gw.agent_url, headers=BEARER) as response:
            assert response.status == 405 and response.headers["Allow"] == "POST"
        assert (await post(http, gw.base_url + "/hooks", {"message": "m"}))[0] == 404
        assert (await post(http, gw.base_url + "/hooks/gmail", {"message": "m"}))[0] == 404
        assert (await post(http, gw.base_url + "/other/agent", {"message": "m"}))[0] == 404
        assert gw.runs == []


async def test_the_body_limit_and_json() -> None:
    async with gateway() as (gw, http):
        message = "x" * (MAX_BODY_BYTES - len(b'{"message":""}'))
        status, _, _ = await post(http, gw.agent_url, {"message": message})
        assert status == 200  # exactly the limit
        status, answer, _ = await post(http, gw.agent_url, {"message": message + "x"})
        assert (status, answer) == (413, {"ok": False, "error": "payload too large"})
        status, answer, _ = await post(http, gw.agent_url, raw=b"{not json")
        assert status == 400 and answer["ok"] is False
        assert (await post(http, gw.agent_url, raw=b""))[1] == {
            "ok": False,
            "error": "message required",
        }
        assert len(gw.runs) == 1


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({}, "message required"),
        ({"message": "   "}, "message required"),
        ({"message": "m", "agentId": ""}, "agentId must be a non-empty string"),
        ({"message": "m", "agentId": "ghost"}, 'unknown agentId "ghost"'),
        ({"message": "m", "sessionMode": "shared"}, "sessionMode must be isolated or persistent"),
        ({"message": "m", "waitForCompletion": "yes"}, "waitForCompletion must be boolean"),
        ({"message": "m", "channel": "telegram"}, "channel and to must be set together"),
        ({"message": "m", "to": "@alex"}, "channel and to must be set together"),
        ({"message": "m", "channel": "last", "to": "@alex"}, "must name a concrete channel"),
        ({"message": "m", "channel": "signal", "to": "@a"}, "channel must be last|telegram|"),
        ({"message": "m", "channel": "telegram", "to": ""}, "to must be a non-empty string"),
        ({"message": "m", "accountId": "work"}, "accountId requires channel and to"),
        (
            {"message": "m", "channel": "telegram", "to": "@a", "accountId": "work"},
            "Channel telegram did not resolve an account.",
        ),
        ({"message": "m", "sessionKey": "hook:x"}, "set hooks.allowRequestSessionKey=true"),
        (
            {"message": "m", "sessionMode": "persistent"},
            "sessionKey is required when sessionMode is persistent",
        ),
        ({"message": "m", "model": ""}, "model required"),
    ],
)
async def test_payload_refusals(payload: dict[str, Any], error: str) -> None:
    async with gateway() as (gw, http):
        status, answer, _ = await post(http, gw.agent_url, payload)
        assert status == 400 and answer["ok"] is False and error in answer["error"]
        assert gw.runs == []


async def test_destinations_and_policy_that_pass() -> None:
    options: dict[str, Any] = {
        "agents": ("main", "ops"),
        "allowed_agent_ids": ("ops",),
        "allow_request_session_key": True,
        "allowed_session_key_prefixes": ("hook:voice:",),
        "accounts": {"telegram": ("personal",)},
    }
    async with gateway(**options) as (gw, http):
        payload = {
            "message": "m",
            "agentId": "OPS",
            "sessionKey": "hook:voice:1",
            "channel": "Telegram",
            "to": "@alex",
            "accountId": "personal",
        }
        assert (await post(http, gw.agent_url, payload))[0] == 200
        [run] = gw.runs
        assert (run.agent_id, run.session_key) == ("ops", "hook:voice:1")
        assert run.fields["channel"] == "telegram" and run.fields["accountId"] == "personal"
        # deliver: false ignores the destination fields altogether.
        quiet = {"message": "m", "agentId": "ops", "deliver": False, "channel": "last"}
        assert (await post(http, gw.agent_url, {**quiet, "sessionKey": "hook:voice:2"}))[0] == 200
        for refused, error in [
            ({**payload, "agentId": "main"}, "not allowed by hooks.allowedAgentIds"),
            ({**payload, "sessionKey": "agent:x"}, "sessionKey must start with one of"),
        ]:
            status, answer, _ = await post(http, gw.agent_url, refused)
            assert status == 400 and error in answer["error"]


async def test_a_repeated_idempotency_key_is_not_run_twice() -> None:
    async with gateway() as (gw, http):
        first = await post(
            http, gw.agent_url, {"message": "m"}, headers={**BEARER, "Idempotency-Key": "k1"}
        )
        again = await post(
            http, gw.agent_url, {"message": "m"}, headers={**BEARER, "Idempotency-Key": " k1 "}
        )
        assert first[:2] == again[:2] == (200, {"ok": True, "runId": gw.runs[0].run_id})
        assert len(gw.runs) == 1
        # The key is scoped to the dispatch: another message under it is another run.
        await post(
            http, gw.agent_url, {"message": "other"}, headers={**BEARER, "Idempotency-Key": "k1"}
        )
        # The header wins over the payload's key; the OpenClaw header and the payload work too.
        await post(
            http,
            gw.agent_url,
            {"message": "m", "idempotencyKey": "k2"},
            headers={**BEARER, "Idempotency-Key": "k1"},
        )
        await post(
            http,
            gw.agent_url,
            {"message": "m"},
            headers={**BEARER, "X-OpenClaw-Idempotency-Key": "k3"},
        )
        await post(http, gw.agent_url, {"message": "m", "idempotencyKey": "k3"})
        # Too long a key is no key at all: each request runs.
        long = {**BEARER, "Idempotency-Key": "k" * 257}
        await post(http, gw.agent_url, {"message": "m"}, headers=long)
        await post(http, gw.agent_url, {"message": "m"}, headers=long)
        assert [run.idempotency_key for run in gw.runs] == ["k1", "k1", "k3", None, None]


async def test_scripted_admissions_are_not_remembered() -> None:
    async with gateway() as (gw, http):
        gw.script([Scripted(503, retry_after_s=2), 409])
        key = {**BEARER, "Idempotency-Key": "k1"}
        status, answer, headers = await post(http, gw.agent_url, {"message": "m"}, headers=key)
        assert (status, answer) == (503, {"ok": False, "error": ADMISSION_ERRORS[503]})
        assert headers["Retry-After"] == "2"
        assert (await post(http, gw.agent_url, {"message": "m"}, headers=key))[0] == 409
        # A failed admission stays retryable under the same key, and then runs once.
        assert (await post(http, gw.agent_url, {"message": "m"}, headers=key))[0] == 200
        assert (await post(http, gw.agent_url, {"message": "m"}, headers=key))[0] == 200
        assert len(gw.runs) == 1
        # Invalid payloads are refused before any scripted answer is used.
        gw.script([502])
        assert (await post(http, gw.agent_url, {}))[0] == 400
        assert (await post(http, gw.agent_url, {"message": "n"}))[0] == 502


async def test_failed_authentication_is_throttled_per_client() -> None:
    clock = Clock()
    async with gateway(clock=clock) as (gw, http):
        bad = {"Authorization": "Bearer wrong"}
        for _ in range(AUTH_FAILURE_LIMIT):
            assert (await post(http, gw.agent_url, {"message": "m"}, headers=bad))[0] == 401
        status, text, headers = await post(http, gw.agent_url, {"message": "m"}, headers=bad)
        assert (status, text, headers["Retry-After"]) == (429, "Too Many Requests", "60")
        clock.now += 59.5
        assert (await post(http, gw.agent_url, {"message": "m"}, headers=bad))[2][
            "Retry-After"
        ] == "1"
        # The right token still gets through, and clears the count.
        assert (await post(http, gw.agent_url, {"message": "m"}))[0] == 200
        assert (await post(http, gw.agent_url, {"message": "m"}, headers=bad))[0] == 401
        # Failures older than the window do not count.
        for _ in range(AUTH_FAILURE_LIMIT - 2):
            await post(http, gw.agent_url, {"message": "m"}, headers=bad)
        clock.now += 61
        for _ in range(AUTH_FAILURE_LIMIT - 1):
            assert (await post(http, gw.agent_url, {"message": "m"}, headers=bad))[0] == 401
        statuses = [r.status for r in gw.requests]
        assert statuses.count(429) == 2 and statuses.count(200) == 1
