"""Whether a call is taken: an outbound one's number, brief, configuration and the limit;
an inbound one's policy, the configuration and the limit; then its slot under the limit
that holds across every instance (`reserve_*`, through the cluster)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from voicecall_rt.call.records import CallRecord
from voicecall_rt.carrier.base import Busy, Reject
from voicecall_rt.cluster.base import Cluster, Reservation
from voicecall_rt.config import ConfigError, Settings
from voicecall_rt.outcome_schema import OutcomeSchemaError, check_outcome_schema
from voicecall_rt.phone import mask_number, normalize_e164
from voicecall_rt.store.errors import StoreError

log = logging.getLogger(__name__)

BUSY_MESSAGE = "Sorry, all lines are busy right now. Please call back later."


class PlaceError(Exception):
    """A call was refused before anything was dialled; `code` is stable, message is for people."""

    def __init__(self, code: str, message: str, *, next_allowed: datetime | None = None) -> None:
        super().__init__(message)
        self.code = code
        # `outside-calling-hours`: when the call may ring (UTC), for `--when-allowed`.
        self.next_allowed = next_allowed


def check_outbound(
    settings: Settings,
    to: str,
    task: str,
    system_prompt: str | None,
    *,
    active: int,
    draining: bool = False,
) -> str:
    """`to` in E.164 if a call to it may be placed now; PlaceError otherwise. A `draining`
    server places nothing: the client should try another instance (API status 503)."""
    try:
        to = normalize_e164(to)
    except ValueError as exc:
        raise PlaceError("invalid-number", str(exc)) from None
    if not task.strip() and not (system_prompt or "").strip():
        raise PlaceError("invalid-task", "say what the call is for (task or system prompt)")
    try:
        settings.require_for_calls()
    except ConfigError as exc:
        raise PlaceError("config", str(exc)) from None
    if draining:
        raise PlaceError("draining", "this server is shutting down; place the call elsewhere")
    if active >= settings.calls.max_concurrent:
        raise PlaceError("limit", limit_message(settings.calls.max_concurrent))
    return to


def check_schema(outcome_schema: dict[str, Any] | None) -> None:
    """PlaceError `invalid-outcome-schema` if the outcome's schema would be refused."""
    if outcome_schema is None:
        return
    try:
        check_outcome_schema(outcome_schema)
    except OutcomeSchemaError as exc:
        raise PlaceError("invalid-outcome-schema", str(exc)) from None


def limit_message(limit: int, *, across_instances: bool = False) -> str:
    where = " across every instance" if across_instances else ""
    return f"concurrent call limit reached ({limit} active{where}); try again when a call ends"


def inbound_refusal(
    settings: Settings, caller: str, active: int, *, draining: bool = False
) -> Reject | Busy | None:
    """Why a call from `caller` (E.164, or "" if unknown) is not taken, or None to take it;
    `active` calls are under way. A `draining` server answers Busy, as when it is full: the
    caller may try again, and another instance takes the retry."""
    inbound = settings.inbound
    if not inbound.enabled or inbound.policy == "disabled":
        log.info("inbound call rejected: inbound calls are disabled")
        return Reject()
    if inbound.policy == "allowlist" and caller not in inbound.allow_from:
        log.info("inbound call from %s rejected: not on the allowlist", mask_number(caller))
        return Reject()
    if settings.missing_for_calls():
        log.error("inbound call rejected: configuration incomplete")
        return Reject()
    if draining:
        log.warning("inbound call from %s turned away: the server is draining", mask_number(caller))
        return Busy(BUSY_MESSAGE)
    if active >= settings.calls.max_concurrent:
        log.warning("inbound call from %s turned away: at capacity", mask_number(caller))
        return Busy(BUSY_MESSAGE)
    return None


async def reserve_outbound(cluster: Cluster, record: CallRecord, limit: int) -> None:
    """Store the call in a slot under the limit that holds across every instance;
    PlaceError if there is none (or the database cannot count)."""
    try:
        reservation = await cluster.reserve(record, limit)
    except StoreError as exc:
        raise PlaceError("store", f"the call database cannot take the call: {exc}") from None
    if reservation is Reservation.FULL:
        raise PlaceError("limit", limit_message(limit, across_instances=True))
    if reservation is Reservation.DUPLICATE:  # pragma: no cover - a fresh id and no sid
        raise PlaceError("duplicate", "this call is already stored")


async def reserve_inbound(cluster: Cluster, record: CallRecord, limit: int) -> Reject | Busy | None:
    """Store the inbound call under the global limit, or why it is turned away: Busy when
    full (or the database cannot count), Reject when another instance has its carrier id."""
    try:
        reservation = await cluster.reserve(record, limit)
    except StoreError as exc:
        log.error("inbound call turned away: the call database cannot take it: %s", exc)
        return Busy(BUSY_MESSAGE)
    if reservation is Reservation.FULL:
        log.warning("inbound call turned away: at capacity across instances")
        return Busy(BUSY_MESSAGE)
    if reservation is Reservation.DUPLICATE:
        log.warning("inbound webhook for a call another instance has taken: refused")
        return Reject()
    return None
