"""One instance on its own store (SQLite): the limit is the roster's, nobody else owns
anything, and nobody else can die."""

from __future__ import annotations

from voicecall_rt.call.records import CallRecord
from voicecall_rt.cluster.base import Cluster, OnLost, Reservation
from voicecall_rt.store.base import Store


class SingleInstance(Cluster):
    alone = True

    def __init__(self, store: Store, instance_id: str) -> None:
        self._store = store
        self.instance_id = instance_id

    async def start(self, on_lost: OnLost) -> list[str]:
        # Any call still live in the store was left by an earlier run of this process.
        return await self._store.settle_stale(reason="server restarted before the call ended")

    async def stop(self) -> None:
        return None

    async def reserve(self, record: CallRecord, limit: int) -> Reservation:
        # The manager counted its own calls against `limit`: they are all there are.
        self._store.insert_call(record)
        return Reservation.ADMITTED

    async def owner(self, call_id: str) -> str | None:
        return None  # owners are not recorded: every live call is this process's

    async def shared_api_token(self, ours: str) -> str:
        return ours

    def set_draining(self, draining: bool) -> None:
        return None  # nobody else to tell
