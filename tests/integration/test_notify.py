"""Results pushed back: a settled call's result is POSTed to `notify.url`, once.

A receiver on loopback stands in for the OpenClaw gateway (or any webhook consumer); the
tests check what arrives (bearer token or an HMAC signature verified here independently,
the outcome, the transcript, the session key passed through from the API request), the
retry policy, the events recorded on the call, and that a slow receiver never holds up a
call. Nothing waits on a clock: tests wait for the notifier's verdict or a receiver event.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from tests.helpers.world import MakeWorld
from voicecall_rt import notify
from voicecall_rt.call.records import CallEvent
from voicecall_rt.config import ConfigError, Settings
from voicecall_rt.config_file import load_settings
from voicecall_rt.simulator.scenario import CallPlan, ModelScript
from voicecall_rt.simulator.scenarios import pizza_booking
from voicecall_rt.simulator.world import SimWorld
from voicecall_rt.store.database import Store
from voicecall_rt.store.files import DB_FILENAME
from voicecall_rt.store.schema import MIGRATIONS, SCHEMA_VERSION

TOKEN = "hook-token-for-tests-0123456789"  # the test receiver's own
SESSION_KEY = "hook:voice:req-42"
BUSY = CallPlan(answer="busy", ring_ms=100)
NOTIFY_KINDS = {"notify.attempt", "notify.delivered", "notify.failed"}


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Receiver:
    """Answers each POST with the next scripted status (then 200), after `gate` opens."""

    url: str
    statuses: list[int] = field(default_factory=list)
    gate: asyncio.Event | None = None
    requests: list[Received] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(Received(dict(request.headers), await request.read()))
        self.arrived.set()
        if self.gate is not None:
            await self.gate.wait()
        status = self.statuses.pop(0) if self.statuses else 200
        return web.json_response({"ok": status < 300}, status=status)


@contextlib.asynccontextmanager
async def receiving(
    statuses: list[int] | None = None, gate: asyncio.Event | None = None
) -> AsyncIterator[Receiver]:
    """A receiver on loopback for the test's body; gone (gate opened) when the body ends, so
    no task of it outlives the test."""
    rx = Receiver(url="", statuses=list(statuses or []), gate=gate)
    runner = await serve(rx)
    try:
        yield rx
    finally:
        if gate is not None:
            gate.set()
        await runner.cleanup()


async def serve(rx: Receiver) -> web.AppRunner:
    app = web.Application()
    app.router.add_post("/hooks/agent", rx.handle)
    runner = web.AppRunner(app, shutdown_timeout=5.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    rx.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hooks/agent"
    return runner


def notify_settings(rx: Receiver, fmt: str = "openclaw") -> dict[str, Any]:
    return {"notify.url": rx.url, "notify.token": TOKEN, "notify.format": fmt}


async def notify_events(world: SimWorld, call_id: str) -> list[CallEvent]:
    events = await world.server.store.events(call_id, kinds=NOTIFY_KINDS)
    assert TOKEN not in orjson.dumps([e.model_dump() for e in events]).decode()
    return events


async def settled_result(world: SimWorld, call_id: str) -> bool:
    notifier = world.server.notifier
    assert notifier is not None
    return await notifier.wait_delivery(call_id)


# ---- the two shapes ----------------------------------------------------------------------


async def test_openclaw_hook_gets_the_result_once(make_world: MakeWorld) -> None:
    scenario = pizza_booking(0.3)
    async with receiving() as rx:
        world = await make_world(scenario.carrier, scenario.model, **notify_settings(rx))
        call_id = await world.place(scenario.to_number, scenario.task, sessionKey=SESSION_KEY)
        data = await world.wait_call(call_id)
        assert data["call"]["status"] == "completed"
        assert data["call"]["notify_session_key"] == SESSION_KEY
        assert await settled_result(world, call_id) is True

    assert len(rx.requests) == 1
    request = rx.requests[0]
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    body = request.json()
    assert set(body) == {"message", "name", "sessionKey"}
    assert body["sessionKey"] == SESSION_KEY
    message = body["message"]
    assert call_id in message and scenario.to_number in message
    assert "completed (model-ended)" in message
    assert "Outcome: succeeded. Booked a table for 4" in message
    assert "confirmation: 4472" in message
    assert "Them: Reservations, this is Maria. How can I help you?" in message
    assert "AI: Under Alex Chen, please." in message
    assert "Note: pressed 1" in message
    assert "[cut off]" in message  # Maria talked over the model once
    assert "\nCost: $" in message  # priced from the call's usage and minutes

    events = await notify_events(world, call_id)
    assert [(e.kind, e.data) for e in events] == [
        ("notify.attempt", {"attempt": 1, "status": 200}),
        ("notify.delivered", {"attempts": 1, "status": 200}),
    ]
    # Written after the call settled and its counters were released: numbered on disk,
    # after everything the call itself wrote.
    every = await world.server.store.events(call_id)
    assert [e.seq for e in every] == list(range(1, len(every) + 1))
    assert [e.kind for e in every][-2:] == ["notify.attempt", "notify.delivered"]
    assert call_id not in world.server.store._seqs.events


async def test_generic_shape_is_signed_with_hmac(make_world: MakeWorld) -> None:
    scenario = pizza_booking(0.3)
    before = time.time()
    async with receiving() as rx:
        world = await make_world(scenario.carrier, scenario.model, **notify_settings(rx, "generic"))
        call_id = await world.place(scenario.to_number, scenario.task, sessionKey=SESSION_KEY)
        await world.wait_call(call_id)
        assert await settled_result(world, call_id) is True
    after = time.time()

    assert len(rx.requests) == 1
    request = rx.requests[0]
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


# ---- retries, refusals, and never blocking -------------------------------------------------

QUESTION = "Ask whether they are open on Sunday."


async def test_retried_with_backoff_until_delivered(
    make_world: MakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notify, "BACKOFF_BASE_S", 0.01)
    async with receiving(statuses=[503, 503]) as rx:
        world = await make_world(BUSY, ModelScript(), **notify_settings(rx))
        call_id = await world.place("+14155550123", QUESTION)
        assert (await world.wait_call(call_id))["call"]["status"] == "busy"
        assert await settled_result(world, call_id) is True

    assert len(rx.requests) == 3
    assert len({r.headers["X-Voicecall-Delivery"] for r in rx.requests}) == 1
    assert len({r.body for r in rx.requests}) == 1
    events = await notify_events(world, call_id)
    assert [(e.kind, e.data) for e in events] == [
        ("notify.attempt", {"attempt": 1, "status": 503, "retry_in_s": 0.01}),
        ("notify.attempt", {"attempt": 2, "status": 503, "retry_in_s": 0.02}),
        ("notify.attempt", {"attempt": 3, "status": 200}),
        ("notify.delivered", {"attempts": 3, "status": 200}),
    ]
    message = rx.requests[0].json()["message"]
    assert message.startswith(f"Phone call {call_id} to +14155550123 ended: busy")
    assert "never answered" in message and "Outcome: none reported." in message


async def test_gives_up_after_the_last_attempt(
    make_world: MakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notify, "BACKOFF_BASE_S", 0.001)
    async with receiving(statuses=[500] * notify.MAX_ATTEMPTS) as rx:
        world = await make_world(BUSY, ModelScript(), **notify_settings(rx))
        call_id = await world.place("+14155550123", QUESTION)
        await world.wait_call(call_id)
        assert await settled_result(world, call_id) is False
    assert len(rx.requests) == notify.MAX_ATTEMPTS
    events = await notify_events(world, call_id)
    assert [e.kind for e in events].count("notify.attempt") == notify.MAX_ATTEMPTS
    assert events[-2].data == {"attempt": notify.MAX_ATTEMPTS, "status": 500}  # no retry
    assert (events[-1].kind, events[-1].data) == (
        "notify.failed",
        {"attempts": notify.MAX_ATTEMPTS, "reason": "gave up after 5 attempts (HTTP 500)"},
    )


async def test_client_error_is_not_retried(
    make_world: MakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notify, "BACKOFF_BASE_S", 0.001)
    async with receiving(statuses=[400]) as rx:
        world = await make_world(BUSY, ModelScript(), **notify_settings(rx))
        call_id = await world.place("+14155550123", QUESTION)
        await world.wait_call(call_id)
        assert await settled_result(world, call_id) is False
    assert len(rx.requests) == 1
    events = await notify_events(world, call_id)
    assert [(e.kind, e.data) for e in events] == [
        ("notify.attempt", {"attempt": 1, "status": 400}),
        ("notify.failed", {"attempts": 1, "reason": "HTTP 400"}),
    ]


async def test_unreachable_receiver_is_retried_then_given_up(
    make_world: MakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notify, "BACKOFF_BASE_S", 0.001)
    async with receiving() as rx:
        pass  # nothing listens on its port any more
    world = await make_world(BUSY, ModelScript(), **notify_settings(rx))
    call_id = await world.place("+14155550123", QUESTION)
    await world.wait_call(call_id)
    assert await settled_result(world, call_id) is False
    events = await notify_events(world, call_id)
    attempts = [e.data for e in events if e.kind == "notify.attempt"]
    assert len(attempts) == notify.MAX_ATTEMPTS
    assert all("error" in a and "status" not in a for a in attempts)
    assert events[-1].kind == "notify.failed"


async def test_a_hanging_receiver_never_blocks_the_call(make_world: MakeWorld) -> None:
    gate = asyncio.Event()
    async with receiving(gate=gate) as rx:
        world = await make_world(BUSY, ModelScript(), **notify_settings(rx))
        notifier = world.server.notifier
        assert notifier is not None
        call_id = await world.place("+14155550123", QUESTION)
        # The call settles and the API answers while the receiver holds the delivery open.
        data = await world.wait_call(call_id)
        assert data["call"]["status"] == "busy" and not data["active"]
        verdict = asyncio.ensure_future(notifier.wait_delivery(call_id))
        await rx.arrived.wait()
        # Another call goes through meanwhile too.
        second = await world.place("+14155550124", QUESTION)
        assert (await world.wait_call(second))["call"]["status"] == "busy"
        assert not verdict.done()
        gate.set()
        assert await verdict is True
        assert await notifier.wait_delivery(second) is True
    ids = sorted(r.json()["message"].split()[2] for r in rx.requests)
    assert ids == sorted([call_id, second])


async def test_shutdown_drains_deliveries_in_flight(make_world: MakeWorld) -> None:
    gate = asyncio.Event()
    async with receiving(gate=gate) as rx:
        world = await make_world(BUSY, ModelScript(), **notify_settings(rx))
        notifier = world.server.notifier
        assert notifier is not None
        call_id = await world.place("+14155550123", QUESTION)
        await world.wait_call(call_id)
        await rx.arrived.wait()
        # Stopping waits (within its bound) for the delivery in flight, which the receiver
        # answers once stopping has begun.
        asyncio.get_running_loop().call_soon(gate.set)
        await notifier.stop()
        assert await notifier.wait_delivery(call_id) is True


async def test_shutdown_cuts_a_stuck_delivery_after_its_bound(make_world: MakeWorld) -> None:
    async with receiving(gate=asyncio.Event()) as rx:  # answers only when the test ends
        world = await make_world(BUSY, ModelScript(), **notify_settings(rx))
        notifier = world.server.notifier
        assert notifier is not None
        call_id = await world.place("+14155550123", QUESTION)
        await world.wait_call(call_id)
        await rx.arrived.wait()
        await notifier.stop(drain_s=0.01)
        assert await notifier.wait_delivery(call_id) is False
        events = await notify_events(world, call_id)
    assert (events[-1].kind, events[-1].data) == (
        "notify.failed",
        {"reason": "server stopped before delivery"},
    )


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


# ---- configuration -----------------------------------------------------------------------


def _load(tmp_path: Path, section: dict[str, Any]) -> Settings:
    path = tmp_path / "config.json"
    path.write_text(orjson.dumps({"notify": section}).decode(), encoding="utf-8")
    return load_settings(path, env={})


@pytest.mark.parametrize(
    "url",
    [
        "https://gateway.example.com/hooks/agent",
        "http://127.0.0.1:18789/hooks/agent",
        "http://127.8.9.10/hooks/agent",
        "http://[::1]:18789/hooks/agent",
        "http://localhost:18789/hooks/agent",
    ],
)
def test_config_accepts_https_and_loopback_http(tmp_path: Path, url: str) -> None:
    settings = _load(tmp_path, {"url": url, "token": TOKEN})
    assert settings.notify.url == url
    assert settings.notify.format == "openclaw"
    assert settings.notify.token is not None
    assert TOKEN not in repr(settings)


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ({"url": "http://gateway.example.com/hooks/agent", "token": TOKEN}, "notify.url: http://"),
        ({"url": "http://10.0.0.5/hooks/agent", "token": TOKEN}, "notify.url: http://"),
        ({"url": "http://127.1/hooks/agent", "token": TOKEN}, "notify.url: http://"),
        ({"url": "ftp://gateway.example.com/x", "token": TOKEN}, "notify.url: must be an https"),
        ({"url": "https:///hooks/agent", "token": TOKEN}, "notify.url: must be an https"),
        ({"url": "https://u:p@gw.example.com/h", "token": TOKEN}, "notify.url: must not carry"),
        ({"url": "https://gw.example.com/h#x", "token": TOKEN}, "notify.url: must not have"),
        ({"url": "https://gw.example.com:99999/h", "token": TOKEN}, "notify.url: has an invalid"),
        ({"url": "https://gw.example.com/a b", "token": TOKEN}, "notify.url: must not contain"),
        ({"url": "https://gw.example.com/hooks/agent"}, "notify.token: is required"),
        ({"url": "https://gw.example.com/hooks/agent", "token": " "}, "notify.token: is required"),
        ({"format": "xml"}, "notify.format:"),
        ({"secret": "x"}, "notify.secret: is not a known setting"),
    ],
)
def test_config_rejects(tmp_path: Path, section: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, section)
    assert expected in str(info.value)
    assert TOKEN not in str(info.value)


def test_config_defaults_to_off(tmp_path: Path) -> None:
    settings = _load(tmp_path, {})
    assert settings.notify.url is None and settings.notify.token is None
    assert _load(tmp_path, {"url": "", "format": "generic"}).notify.url is None


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
    store = await Store.open(tmp_path)
    try:
        record = await store.get_call("call_old")
        assert record is not None and record.notify_session_key is None
        store.update_call("call_old", notify_session_key="hook:x")
        again = await store.get_call("call_old")
        assert again is not None and again.notify_session_key == "hook:x"
    finally:
        await store.close()
    assert user_version(path) == SCHEMA_VERSION == 2
