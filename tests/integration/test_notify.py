"""Results pushed back: a settled call's result is POSTed to `notify.url`, once.

The OpenClaw format goes to the strict fake gateway (voicecall_rt.simulator.
openclaw_gateway), which refuses whatever the real one refuses; the generic format to a
plain receiver whose signature is verified here independently. These tests check what
arrives and what ran; test_notify_retries.py the retry policy and shutdown. Nothing waits
on a clock: tests wait for the notifier's verdict.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.notify_hooks import (
    BUSY,
    QUESTION,
    TOKEN,
    busy_call,
    delivery_verdict,
    gateway_settings,
    never_delivered,
    notify_events,
    signed_receiver,
)
from tests.helpers.world import MakeWorld
from voicecall_rt import notify
from voicecall_rt.simulator.openclaw_gateway import FakeGateway
from voicecall_rt.simulator.scenario import ModelScript
from voicecall_rt.simulator.scenarios import pizza_booking
from voicecall_rt.store.sqlite.database import SqliteStore
from voicecall_rt.store.sqlite.files import DB_FILENAME
from voicecall_rt.store.sqlite.schema import MIGRATIONS, SCHEMA_VERSION

SESSION_KEY = "hook:voice:req-42"


# ---- the OpenClaw gateway's agent hook ---------------------------------------------------


async def test_openclaw_hook_gets_the_result_once(make_world: MakeWorld) -> None:
    scenario = pizza_booking(0.3)
    async with FakeGateway(TOKEN, allow_request_session_key=True) as gateway:
        world = await make_world(scenario.carrier, scenario.model, **gateway_settings(gateway))
        call_id = await world.place(scenario.to_number, scenario.task, sessionKey=SESSION_KEY)
        data = await world.wait_call(call_id)
        assert data["call"]["status"] == "completed"
        assert data["call"]["notify_session_key"] == SESSION_KEY
        assert await delivery_verdict(world, call_id) is True

    [request] = gateway.requests
    [run] = gateway.runs
    assert request.status == 200
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    key = request.headers["Idempotency-Key"]
    assert re.fullmatch(r"[0-9a-f]{32}", key) and run.idempotency_key == key
    body = request.json()
    assert set(body) == {"message", "name", "sessionKey"}
    assert (run.session_key, run.name, run.agent_id) == (SESSION_KEY, "Phone call", "main")
    assert run.fields["channel"] == "last" and run.fields["to"] is None  # no destination
    message = run.message
    assert message == body["message"]
    assert call_id in message and scenario.to_number in message
    assert "completed (model-ended)" in message
    assert "Outcome: succeeded. Booked a table for 4" in message
    assert "confirmation: 4472" in message
    assert "\nCost: $" in message  # priced from the call's usage and minutes
    # The transcript, fenced as third-party speech by markers with this delivery's nonce.
    lines = message.split("\n")
    begin = lines.index(f"[call transcript {key[:8]} begins]")
    end = lines.index(f"[call transcript {key[:8]} ends]")
    assert "not instructions" in lines[begin - 1]
    quoted = lines[begin + 1 : end]
    assert "  Them: Reservations, this is Maria. How can I help you?" in quoted
    assert "  AI: Under Alex Chen, please." in quoted
    assert "  Note: pressed 1" in quoted
    assert any(line.endswith("[cut off]") for line in quoted)  # Maria talked over the model
    assert all(line.startswith("  ") for line in quoted)
    assert lines[-1] == f"Full record: voicecall-rt calls show {call_id} --json"

    events = await notify_events(world, call_id)
    assert [(e.kind, e.data) for e in events] == [
        ("notify.attempt", {"attempt": 1, "status": 200}),
        ("notify.delivered", {"attempts": 1, "status": 200, "run_id": run.run_id}),
    ]
    # Written after the call settled and its counters were released: numbered on disk,
    # after everything the call itself wrote.
    every = await world.server.store.events(call_id)
    assert [e.seq for e in every] == list(range(1, len(every) + 1))
    assert [e.kind for e in every][-2:] == ["notify.attempt", "notify.delivered"]
    assert call_id not in world.server.store._seqs.events


async def test_routing_settings_reach_the_gateway(make_world: MakeWorld) -> None:
    async with FakeGateway(
        TOKEN, agents=("main", "ops"), accounts={"telegram": ("personal",)}
    ) as gateway:
        world, call_id = await busy_call(
            make_world, gateway, agentId="ops", channel="Telegram", to="@alex", accountId="personal"
        )
        assert await delivery_verdict(world, call_id) is True
    [run] = gateway.runs
    assert run.agent_id == "ops"
    assert (run.fields["channel"], run.fields["to"], run.fields["accountId"]) == (
        "telegram",
        "@alex",
        "personal",
    )
    assert set(gateway.requests[0].json()) == {
        "message",
        "name",
        "agentId",
        "channel",
        "to",
        "accountId",
    }
    assert run.message.startswith(f"Phone call {call_id} to +14155550123 ended: busy")


@pytest.mark.parametrize(
    ("gateway_options", "notify_options", "session_key", "refusal"),
    [
        # The gateway does not take request session keys unless told to.
        ({}, {}, SESSION_KEY, "set hooks.allowRequestSessionKey=true"),
        (
            {"allow_request_session_key": True, "allowed_session_key_prefixes": ("hook:ops:",)},
            {},
            SESSION_KEY,
            "sessionKey must start with one of: hook:ops:",
        ),
        ({}, {"agentId": "ghost"}, None, 'unknown agentId "ghost"'),
        ({"allowed_agent_ids": ("ops",)}, {}, None, "not allowed by hooks.allowedAgentIds"),
        ({}, {"channel": "signal", "to": "+1"}, None, "channel must be last|telegram"),
        (
            {},
            {"channel": "telegram", "to": "@alex", "accountId": "work"},
            None,
            "Channel telegram did not resolve an account.",
        ),
    ],
)
async def test_a_refusal_is_final_with_the_gateways_reason(
    make_world: MakeWorld,
    gateway_options: dict[str, Any],
    notify_options: dict[str, Any],
    session_key: str | None,
    refusal: str,
) -> None:
    async with FakeGateway(TOKEN, **gateway_options) as gateway:
        world = await make_world(BUSY, ModelScript(), **gateway_settings(gateway, **notify_options))
        extra = {"sessionKey": session_key} if session_key else {}
        call_id = await world.place("+14155550123", QUESTION, **extra)
        await world.wait_call(call_id)
        assert await delivery_verdict(world, call_id) is False
    assert [r.status for r in gateway.requests] == [400] and gateway.runs == []
    events = await notify_events(world, call_id)
    assert [e.kind for e in events] == ["notify.attempt", "notify.failed"]
    assert events[0].data["status"] == 400 and refusal in events[0].data["detail"]
    assert events[1].data["attempts"] == 1
    assert events[1].data["reason"].startswith("HTTP 400: ") and refusal in events[1].data["reason"]


async def test_body_kept_within_the_gateways_limit(
    make_world: MakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a limit the whole transcript does not fit in, fewer lines are sent: the gateway
    (refusing anything larger with 413) gets a body within it, never a 413."""
    limit = 1000
    monkeypatch.setattr(notify, "BODY_LIMIT_BYTES", limit)
    scenario = pizza_booking(0.3)
    async with FakeGateway(TOKEN, max_body_bytes=limit) as gateway:
        world = await make_world(scenario.carrier, scenario.model, **gateway_settings(gateway))
        call_id = await world.place(scenario.to_number, scenario.task)
        transcript = (await world.wait_call(call_id))["transcript"]
        assert await delivery_verdict(world, call_id) is True
    [request] = gateway.requests
    assert request.status == 200 and len(request.body) <= limit
    message = gateway.runs[0].message
    kept = [
        line for line in message.split("\n") if line.startswith(("  Them:", "  AI:", "  Note:"))
    ]
    assert len(kept) in (2, 4, 8) and len(kept) < len(transcript)
    assert f"  … {len(transcript) - len(kept)} line(s) left out …" in message
    # The first and the last lines said are among those kept.
    assert kept[-1].endswith(transcript[-1]["text"])


async def test_a_result_that_cannot_fit_is_not_sent(
    make_world: MakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notify, "BODY_LIMIT_BYTES", 100)
    statuses, events = await never_delivered(make_world, FakeGateway(TOKEN))
    assert statuses == []
    assert [(e.kind, e.data) for e in events] == [
        ("notify.failed", {"attempts": 0, "reason": "the result does not fit in 100 bytes"})
    ]


# ---- the generic format ------------------------------------------------------------------


async def test_generic_shape_is_signed_with_hmac(make_world: MakeWorld) -> None:
    scenario = pizza_booking(0.3)
    before = time.time()
    async with signed_receiver() as rx:
        settings = {"notify.url": rx.url, "notify.token": TOKEN, "notify.format": "generic"}
        world = await make_world(scenario.carrier, scenario.model, **settings)
        call_id = await world.place(scenario.to_number, scenario.task, sessionKey=SESSION_KEY)
        await world.wait_call(call_id)
        assert await delivery_verdict(world, call_id) is True
    after = time.time()

    [request] = rx.requests
    assert "Authorization" not in request.headers  # the token is a key, never sent
    timestamp = request.headers["X-Voicecall-Timestamp"]
    # The clock's whole seconds when it was signed, during this test.
    assert int(before) <= int(timestamp) <= after
    expected = hmac.new(TOKEN.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256)
    assert hmac.compare_digest(
        request.headers["X-Voicecall-Signature"], "sha256=" + expected.hexdigest()
    )
    # The same body presented with another timestamp (a replay made to look fresh) fails.
    replay = hmac.new(TOKEN.encode(), b"1700000000." + request.body, hashlib.sha256)
    assert request.headers["X-Voicecall-Signature"] != "sha256=" + replay.hexdigest()

    body = request.json()
    assert body["event"] == "call.settled"
    assert body["delivery_id"] == request.headers["X-Voicecall-Delivery"]
    assert body["delivery_id"] == request.headers["Idempotency-Key"]
    assert body["session_key"] == SESSION_KEY
    call = body["call"]
    assert call["id"] == call_id
    assert call["status"] == "completed" and call["end_reason"] == "model-ended"
    assert call["outcome"]["success"] is True
    assert call["outcome"]["details"]["confirmation"] == "4472"
    assert call["duration_s"] > 0
    assert call["cost"]["total_usd"] > 0 and call["cost"]["carrier_minutes"] == 1
    roles = [line["role"] for line in body["transcript"]]
    assert roles.count("caller") == 5 and roles.count("assistant") == 5
    assert body["transcript_lines_omitted"] == 0
    assert any(line["text"] == "pressed 1" for line in body["transcript"])
    assert "Booked a table for 4" in body["summary"]
    assert f"[call transcript {body['delivery_id'][:8]} begins]" in body["summary"]


# ---- the session key ---------------------------------------------------------------------


async def test_no_notifier_without_a_url(make_world: MakeWorld) -> None:
    world = await make_world(BUSY, ModelScript())
    assert world.server.notifier is None


async def test_session_key_is_validated(make_world: MakeWorld) -> None:
    world = await make_world(BUSY, ModelScript())
    for bad in ("has space", "", "x" * 257, "tab\there"):
        status, data = await world.api(
            "POST", "/api/calls", {"to": "+14155550123", "task": "t", "sessionKey": bad}
        )
        assert status == 400, bad
        assert data["error"]["code"] == "invalid-request"


# ---- storage ------------------------------------------------------------------------------


def make_schema_1_database(data_dir: Path) -> Path:
    path = data_dir / DB_FILENAME
    conn = sqlite3.connect(path)
    try:
        for statement in MIGRATIONS[0]:
            conn.execute(statement)
        conn.execute(
            "INSERT INTO calls (id, direction, from_number, to_number, status, created_at) "
            "VALUES ('call_old', 'outbound', '+14155550100', '+14155550123', 'completed', 1)"
        )
        conn.execute("PRAGMA user_version = 1")
        conn.commit()
    finally:
        conn.close()
    path.chmod(0o600)
    return path


def user_version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


async def test_store_upgrade_keeps_calls_and_adds_the_session_key(tmp_path: Path) -> None:
    """A database made by schema 1 opens under schema 2 with its calls intact."""
    path = make_schema_1_database(tmp_path)
    store = await SqliteStore.open(tmp_path)
    try:
        record = await store.get_call("call_old")
        assert record is not None and record.notify_session_key is None
        store.update_call("call_old", notify_session_key="hook:x")
        again = await store.get_call("call_old")
        assert again is not None and again.notify_session_key == "hook:x"
    finally:
        await store.close()
    assert user_version(path) == SCHEMA_VERSION  # the latest, whatever came after 2
