"""Calls another instance runs (several instances on one PostgreSQL, docs/scaling.md):
whether one is still live, waiting for its end, hanging it up, and settling the calls of
an instance that died. This instance has no bridge for them: it knows them from the store,
the live feed (cluster/feed.py) and the carrier."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from voicecall_rt.call.journal import Hub
from voicecall_rt.call.records import CallRecord, CallStatus, now_ms
from voicecall_rt.carrier.base import CarrierApi, CarrierError
from voicecall_rt.cluster.base import INSTANCE_LOST, Cluster
from voicecall_rt.store.base import Store

log = logging.getLogger(__name__)


def _is_final(entry: dict[str, Any]) -> bool:
    return entry["kind"] == "call.status" and CallStatus(entry["data"]["status"]).terminal


class Elsewhere:
    def __init__(
        self, store: Store, hub: Hub, cluster: Cluster, carrier: CarrierApi | None
    ) -> None:
        self._store = store
        self._hub = hub
        self._cluster = cluster
        self._carrier = carrier

    def is_live(self, record: CallRecord) -> bool:
        """Whether a call not in this instance's roster is going on elsewhere."""
        return not self._cluster.alone and not record.status.terminal

    async def wait(self, call_id: str, timeout_s: float) -> None:
        """Return once the call has ended (its final status came through the live feed),
        or when `timeout_s` runs out; at once if it is not live anywhere."""
        if self._cluster.alone:
            return
        queue = self._hub.follow(call_id)  # before reading: nothing falls in between
        try:
            record = await self._store.get_call(call_id)
            if record is None or record.status.terminal:
                return
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_s):
                    while not _is_final(await queue.get()):
                        pass
        finally:
            self._hub.unfollow(queue, call_id)

    async def hang_up(self, call_id: str) -> bool:
        """End it through the carrier: its final status reaches the owner, which settles it
        as for any hang-up. False if it is not live elsewhere. Raises CarrierError."""
        if self._cluster.alone or self._carrier is None:
            return False
        record = await self._store.get_call(call_id)
        if record is None or record.status.terminal or not record.carrier_sid:
            return False
        await self._carrier.hang_up(record.carrier_sid)
        return True

    async def settle_lost(self, records: list[CallRecord]) -> None:
        """Calls of an instance that died, settled by the cluster: hang each up at the
        carrier (its media went with the instance) and record why it ended."""
        for record in records:
            self._store.add_event(
                record.id,
                now_ms() - record.created_at,
                "settled",
                {"status": record.status.value, "reason": INSTANCE_LOST},
            )
            if record.carrier_sid and self._carrier is not None:
                try:
                    await self._carrier.hang_up(record.carrier_sid)
                except CarrierError as exc:
                    log.warning("call %s (instance lost): hang-up failed: %s", record.id, exc)
            log.warning("call %s settled: %s (%s)", record.id, record.status.value, INSTANCE_LOST)
