"""Several instances on one PostgreSQL: each registers and heartbeats, owns the calls it
places or answers under a lease its heartbeat renews, and admits a call only while fewer
than `calls.maxConcurrent` are live across all of them (counted under one transaction
lock, so two instances cannot both take the last slot).

An instance that dies stops renewing: once its leases lapse, any other instance settles
its calls as `instance-lost` and hands them to the manager to hang up, and their slots are
free. An instance sweeps only after it has itself heartbeated for a whole lease without
a failure, so that after the database's own outage — when nobody could heartbeat — no one
takes the others for dead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg

from voicecall_rt.call.records import CallRecord, now_ms
from voicecall_rt.cluster import postgres_sql as sql
from voicecall_rt.cluster.base import INSTANCE_LOST, Cluster, OnLost, Reservation
from voicecall_rt.store.errors import StoreError
from voicecall_rt.store.postgres.connect import CONNECTION_LOST
from voicecall_rt.store.postgres.database import PostgresStore
from voicecall_rt.store.rows import record_columns, to_record

log = logging.getLogger(__name__)

_FORGET_AFTER_LEASES = 20


class PostgresCluster(Cluster):
    alone = False

    def __init__(
        self, store: PostgresStore, instance_id: str, public_url: str, lease_s: float
    ) -> None:
        self._store = store
        self.instance_id = instance_id
        self._public_url = public_url
        self._lease_ms = int(lease_s * 1000)
        self._lease_s = lease_s
        self._state = "serving"
        self._beats: asyncio.Task[None] | None = None
        self._healthy_since: float | None = None
        self._on_lost: OnLost | None = None

    @property
    def lease_s(self) -> float:
        return self._lease_s

    async def start(self, on_lost: OnLost) -> list[str]:
        self._on_lost = on_lost
        async with self._store.pool.acquire() as conn:
            rows = await conn.fetch(
                sql.SETTLE_OWN, self.instance_id, "server restarted before the call ended", now_ms()
            )
            await conn.execute(sql.REGISTER, self.instance_id, self._public_url, self._state)
        self._healthy_since = asyncio.get_running_loop().time()
        self._beats = asyncio.create_task(self._beat_forever(), name="cluster-heartbeat")
        log.info("instance %s joined (lease %.0f s)", self.instance_id, self._lease_s)
        return sorted(str(r["id"]) for r in rows)

    async def stop(self) -> None:
        if self._beats is not None:
            self._beats.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beats
            self._beats = None
        try:
            async with self._store.pool.acquire() as conn:
                await conn.execute(sql.DEREGISTER, self.instance_id)
        except (*CONNECTION_LOST, asyncpg.PostgresError) as exc:
            # Not fatal: the row ages out, and our calls are settled already.
            log.warning("instance %s could not deregister: %s", self.instance_id, exc)

    async def shared_api_token(self, ours: str) -> str:
        async with self._store.pool.acquire() as conn:
            await conn.execute(sql.OFFER_SHARED, "api_token", ours)
            return str(await conn.fetchval(sql.READ_SHARED, "api_token"))

    def set_draining(self, draining: bool) -> None:
        self._state = "draining" if draining else "serving"

    async def reserve(self, record: CallRecord, limit: int) -> Reservation:
        params: tuple[Any, ...] = (*record_columns(record), self.instance_id, self._lease_ms)
        try:
            async with self._store.pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", sql.LIMIT_LOCK)
                if await conn.fetchval(sql.COUNT_LIVE) >= limit:
                    return Reservation.FULL
                if await conn.fetchval(sql.RESERVE, *params) is None:
                    return Reservation.DUPLICATE
        except (*CONNECTION_LOST, asyncpg.PostgresError) as exc:
            raise StoreError(f"reservation failed ({type(exc).__name__})") from None
        self._store.track(record.id)
        return Reservation.ADMITTED

    async def owner(self, call_id: str) -> str | None:
        try:
            async with self._store.pool.acquire() as conn:
                owner = await conn.fetchval(sql.OWNER, call_id)
        except (*CONNECTION_LOST, asyncpg.PostgresError) as exc:
            raise StoreError(f"cannot read the call's owner ({type(exc).__name__})") from None
        return None if owner is None else str(owner)

    # -- the heartbeat -----------------------------------------------------------------

    async def _beat_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._lease_s / 3)
            try:
                await self._beat()
            except (*CONNECTION_LOST, asyncpg.PostgresError) as exc:
                if self._healthy_since is not None:
                    log.warning("instance %s: heartbeat failed: %s", self.instance_id, exc)
                self._healthy_since = None
                continue
            if self._healthy_since is None:
                self._healthy_since = loop.time()
                log.info("instance %s: heartbeat back", self.instance_id)
            if loop.time() - self._healthy_since >= self._lease_s:
                await self._sweep()

    async def _beat(self) -> None:
        async with self._store.pool.acquire() as conn:
            registered = await conn.execute(sql.HEARTBEAT, self.instance_id, self._state)
            if registered == "UPDATE 0":
                # Forgotten after a long outage: take our place again.
                await conn.execute(sql.REGISTER, self.instance_id, self._public_url, self._state)
            await conn.execute(sql.RENEW_LEASES, self.instance_id, self._lease_ms)
            await conn.execute(sql.FORGET_GONE, self._lease_ms * _FORGET_AFTER_LEASES)

    async def _sweep(self) -> None:
        try:
            async with self._store.pool.acquire() as conn:
                rows = await conn.fetch(sql.SWEEP, self.instance_id, INSTANCE_LOST, now_ms())
        except (*CONNECTION_LOST, asyncpg.PostgresError) as exc:
            log.warning("instance %s: sweep failed: %s", self.instance_id, exc)
            return
        if not rows:
            return
        lost = [to_record(row) for row in rows]
        log.warning("settled %d call(s) of instances that stopped: %s", len(lost), INSTANCE_LOST)
        if self._on_lost is not None:
            await self._on_lost(lost)
