"""Instances on one PostgreSQL, in one process: each with a store and a cluster of its own
on the same database, as separate `serve` processes have (tests/integration/
test_cluster_*.py run those). The global limit under a race, a carrier id taken twice,
the API token every instance shares, a restart under the same id, leases renewed by the
heartbeat and lapsed ones swept, and the live feed of another instance's call — through
a database restart too."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest

from tests.helpers.polling import eventually
from tests.helpers.postgres_server import PostgresServer
from tests.helpers.records import make_call
from voicecall_rt.call.journal import CallJournal, Hub
from voicecall_rt.call.records import CallRecord, CallStatus, now_ms
from voicecall_rt.cluster.base import INSTANCE_LOST, Reservation
from voicecall_rt.cluster.feed import RemoteFeed
from voicecall_rt.cluster.postgres import PostgresCluster
from voicecall_rt.cluster.report import describe_store
from voicecall_rt.config import Settings
from voicecall_rt.status import check_model_errors
from voicecall_rt.store.postgres.database import PostgresStore
from voicecall_rt.store.postgres.schema import SCHEMA_VERSION

PUBLIC = "https://{}.voice.test"
LEASE_S = 3.0  # the shortest lease the config allows


async def _nothing_lost(records: list[CallRecord]) -> None:
    raise AssertionError(f"nothing should be swept here: {records}")


@asynccontextmanager
async def instance(
    url: str,
    name: str,
    on_lost: Callable[[list[CallRecord]], Awaitable[None]] = _nothing_lost,
) -> AsyncIterator[tuple[PostgresStore, PostgresCluster]]:
    store = await PostgresStore.open(url)
    cluster = PostgresCluster(store, name, PUBLIC.format(name), LEASE_S)
    try:
        await cluster.start(on_lost)
        yield store, cluster
    finally:
        await cluster.stop()
        await store.close()


async def fetch(url: str, statement: str, *args: Any) -> list[Any]:
    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(statement, *args))
    finally:
        await conn.close()


async def test_the_limit_holds_across_instances_under_a_race(pg_url: str) -> None:
    async with instance(pg_url, "a") as (_, a), instance(pg_url, "b") as (_, b):
        records = [make_call(f"c{i}", created_at=now_ms()) for i in range(12)]
        results = await asyncio.gather(
            *((a if i % 2 else b).reserve(record, limit=3) for i, record in enumerate(records))
        )
        assert results.count(Reservation.ADMITTED) == 3
        assert results.count(Reservation.FULL) == 9
        rows = await fetch(pg_url, "SELECT id, owner FROM calls")
        assert len(rows) == 3 and {r["owner"] for r in rows} <= {"a", "b"}
        # A slot comes back when its call settles, wherever it ran.
        admitted = [
            r for r, result in zip(records, results, strict=True) if result is Reservation.ADMITTED
        ]
        await fetch(pg_url, "UPDATE calls SET status = 'completed' WHERE id = $1", admitted[0].id)
        late = make_call("late", created_at=now_ms())
        assert await a.reserve(late, limit=3) is Reservation.ADMITTED
        assert await b.reserve(make_call("later", created_at=now_ms()), limit=3) is Reservation.FULL


async def test_a_carrier_id_live_on_one_instance_is_refused_on_another(pg_url: str) -> None:
    async with instance(pg_url, "a") as (_, a), instance(pg_url, "b") as (_, b):
        first = make_call("in1", direction="inbound", carrier_sid="CA1", created_at=now_ms())
        again = make_call("in2", direction="inbound", carrier_sid="CA1", created_at=now_ms())
        assert await a.reserve(first, limit=10) is Reservation.ADMITTED
        assert await b.reserve(again, limit=10) is Reservation.DUPLICATE
        assert [r["id"] for r in await fetch(pg_url, "SELECT id FROM calls")] == ["in1"]
        assert await b.owner("in1") == "a" and await a.owner("in2") is None
        # Once that call is over, the carrier's id may come back (a new call, say).
        await fetch(pg_url, "UPDATE calls SET status = 'completed' WHERE id = 'in1'")
        assert await b.reserve(again, limit=10) is Reservation.ADMITTED
        assert await a.owner("in1") is None


async def test_every_instance_accepts_the_first_instances_api_token(pg_url: str) -> None:
    async with instance(pg_url, "a") as (_, a), instance(pg_url, "b") as (_, b):
        assert await a.shared_api_token("token-of-a" * 4) == "token-of-a" * 4
        assert await b.shared_api_token("token-of-b" * 4) == "token-of-a" * 4


async def test_a_restart_under_the_same_id_settles_what_the_last_run_left(pg_url: str) -> None:
    async with instance(pg_url, "a") as (_, a):
        answered = make_call("talking", created_at=now_ms(), answered_at=now_ms())
        ringing = make_call("ringing", created_at=now_ms())
        for record in (answered, ringing):
            assert await a.reserve(record, limit=10) is Reservation.ADMITTED
    # `stop` deregistered it, as a clean exit does; a crash leaves the calls live too.
    store = await PostgresStore.open(pg_url)
    again = PostgresCluster(store, "a", PUBLIC.format("a"), LEASE_S)
    try:
        assert await again.start(_nothing_lost) == ["ringing", "talking"]
    finally:
        await again.stop()
        await store.close()
    rows = {r["id"]: r for r in await fetch(pg_url, "SELECT id, status, end_reason FROM calls")}
    assert rows["talking"]["status"] == "completed" and rows["ringing"]["status"] == "failed"
    assert {r["end_reason"] for r in rows.values()} == {"server restarted before the call ended"}


@pytest.mark.slow  # waits out real leases
async def test_heartbeats_renew_leases_and_a_lapsed_lease_is_swept_once(pg_url: str) -> None:
    lost: list[CallRecord] = []

    async def on_lost(records: list[CallRecord]) -> None:
        lost.extend(records)

    async with instance(pg_url, "a", on_lost) as (_, a), instance(pg_url, "b", on_lost):
        live = make_call("live", created_at=now_ms(), answered_at=now_ms(), carrier_sid="CA7")
        assert await a.reserve(live, limit=10) is Reservation.ADMITTED
        (first,) = await fetch(pg_url, "SELECT lease_until FROM calls WHERE id = 'live'")

        async def renewed() -> bool:
            (row,) = await fetch(pg_url, "SELECT lease_until FROM calls WHERE id = 'live'")
            return bool(row["lease_until"] > first["lease_until"])

        await eventually(renewed, 15, "the heartbeat renews the lease")
        # A dead instance's call: owned by an instance nobody runs, its lease lapsed.
        ghost = make_call("ghost", created_at=now_ms(), carrier_sid="CA9")
        await fetch(
            pg_url,
            "INSERT INTO calls (id, direction, from_number, to_number, task, status,"
            " carrier_sid, created_at, owner, lease_until) VALUES ($1, 'outbound', $2, $3, '',"
            " 'in-progress', 'CA9', $4, 'gone', 0)",
            ghost.id,
            ghost.from_number,
            ghost.to_number,
            ghost.created_at,
        )

        async def swept() -> bool:
            return bool(lost)

        await eventually(swept, LEASE_S * 4, "the lapsed lease is swept")
        # Both instances sweep; the one statement lets only one of them settle it.
        (row,) = await fetch(pg_url, "SELECT status, end_reason FROM calls WHERE id = 'ghost'")
        assert (row["status"], row["end_reason"]) == ("failed", INSTANCE_LOST)
        assert [r.id for r in lost] == ["ghost"] and lost[0].carrier_sid == "CA9"
        assert lost[0].status is CallStatus.FAILED
        # The live call, renewed all along, was never taken for lost.
        (kept,) = await fetch(pg_url, "SELECT status FROM calls WHERE id = 'live'")
        assert kept["status"] == "initiating"


async def test_the_feed_follows_another_instances_call_through_a_database_restart(
    pg_url: str, postgres: PostgresServer
) -> None:
    async with instance(pg_url, "a") as (store_a, a), instance(pg_url, "b") as (store_b, _):
        record = make_call("far", created_at=now_ms())
        assert await a.reserve(record, limit=10) is Reservation.ADMITTED
        journal = CallJournal(store_a, Hub(), record.id, record.created_at)
        hub_b = Hub()
        feed = RemoteFeed(store_b, hub_b, is_local=lambda call_id: False)
        queue = hub_b.follow(record.id)
        await feed.start()
        try:
            journal.line("assistant", "Hello, this is the assistant.")
            journal.event("answered")
            got = [await asyncio.wait_for(queue.get(), 10) for _ in range(3)]
            kinds = [(e["kind"], e.get("seq")) for e in got]
            assert ("transcript", 1) in kinds and ("answered", 1) in kinds
            assert ("call.status", None) in kinds

            await postgres.restart()
            journal.line("caller", "Hi, a table for four please.")  # held, then written
            store_a.update_call(record.id, status=CallStatus.COMPLETED, end_reason="hangup")
            after: list[dict[str, Any]] = []
            while not any(
                e["kind"] == "call.status" and e["data"]["status"] == "completed" for e in after
            ):
                after.append(await asyncio.wait_for(queue.get(), 30))
            lines = [e for e in after if e["kind"] == "transcript"]
            assert [(e["seq"], e["text"]) for e in lines] == [(2, "Hi, a table for four please.")]
            assert feed.reconnects >= 1
        finally:
            hub_b.unfollow(queue, record.id)
            await feed.stop()


async def test_status_names_the_database_and_the_instances_never_the_password(
    pg_url: str, postgres: PostgresServer
) -> None:
    def settings_for(url: str) -> Settings:
        return Settings.model_validate({"store": {"url": url}})

    assert await describe_store(settings_for(pg_url)) == (
        True,
        f"PostgreSQL at {pg_url}: empty (the first `serve` creates the tables)",
    )
    # Reading the history for `status` sets nothing up in an empty database.
    history = await check_model_errors(settings_for(pg_url))
    assert history.warning and "no call history yet" in history.detail
    assert await fetch(pg_url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'") == []
    async with instance(pg_url, "a"), instance(pg_url, "b"):
        await fetch(pg_url, "UPDATE instances SET heartbeat_at = 0 WHERE id = 'b'")
        ok, detail = await describe_store(settings_for(pg_url))
    head = f"PostgreSQL at {pg_url}, schema {SCHEMA_VERSION}; instances: a (serving"
    assert ok and detail.startswith(head)
    assert detail.endswith("; 1 silent past the lease (their calls are settled as lost)")
    # A server that is not there; the password in its URL is never shown.
    closed = f"postgresql://vc:hunter2-secret@127.0.0.1:{postgres.port}/nowhere"
    await postgres.stop()
    ok, detail = await describe_store(settings_for(closed))
    assert not ok and "unreachable" in detail and "hunter2-secret" not in detail
    assert detail.startswith(f"PostgreSQL at postgresql://vc:***@127.0.0.1:{postgres.port}/nowhere")
