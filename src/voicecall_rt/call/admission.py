"""Whether a call is taken: an outbound one's number, brief, configuration and the limit;
an inbound one's policy, the configuration and the limit."""

from __future__ import annotations

import logging

from voicecall_rt.carrier.base import Busy, Reject
from voicecall_rt.config import ConfigError, Settings
from voicecall_rt.phone import mask_number, normalize_e164

log = logging.getLogger(__name__)

BUSY_MESSAGE = "Sorry, all lines are busy right now. Please call back later."


class PlaceError(Exception):
    """A call was refused before anything was dialled; `code` is stable, message is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


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
