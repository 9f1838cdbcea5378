"""What the call manager asks of the instances sharing its store."""

from __future__ import annotations

import abc
import enum
from collections.abc import Awaitable, Callable

from voicecall_rt.call.records import CallRecord

INSTANCE_LOST = "instance-lost"

# Told of the calls settled because their instance died, to hang them up and announce them.
OnLost = Callable[[list[CallRecord]], Awaitable[None]]


class Reservation(enum.Enum):
    ADMITTED = "admitted"  # the call's row is stored, owned by this instance
    FULL = "full"  # every slot of calls.maxConcurrent is taken, across instances
    DUPLICATE = "duplicate"  # a live call already has this carrier id (a webhook twice)


class Cluster(abc.ABC):
    """This instance among the others on the same store."""

    instance_id: str
    # Whether this instance is the only one: then a call not in its roster is not live.
    alone: bool

    @abc.abstractmethod
    async def start(self, on_lost: OnLost) -> list[str]:
        """Join: register this instance, settle what an earlier run of it left live
        (returns those ids), and begin the heartbeat; from then on the live calls of
        instances that stop heartbeating are settled (`instance-lost`) and handed to
        `on_lost`."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Leave: stop the heartbeat and deregister (the calls are settled by then)."""

    @abc.abstractmethod
    async def reserve(self, record: CallRecord, limit: int) -> Reservation:
        """Store the new call if fewer than `limit` calls are live across every instance;
        the slot is held until the call settles, or its lease lapses."""

    @abc.abstractmethod
    async def owner(self, call_id: str) -> str | None:
        """The instance that owns `call_id` while it is live; None if it is not live."""

    @abc.abstractmethod
    async def shared_api_token(self, ours: str) -> str:
        """The local API's token every instance accepts: the first to start offers its
        own (`ours`), the others take that one."""

    @abc.abstractmethod
    def set_draining(self, draining: bool) -> None:
        """Tell the others this instance takes no new call (shown, not enforced: the
        instance itself refuses)."""
