"""The OpenClaw gateway's hook agent payload, as its handler checks and normalises it
(docs/gateway/config-hooks.md, "Hook agent payload"), for the fake gateway
(simulator/openclaw_gateway.py): the fields of a run, the delivery target, and the
idempotency key a replay is known by. A payload the gateway refuses raises `Refused` with
the gateway's own text.
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

__all__ = ["MAX_IDEMPOTENCY_KEY_CHARS", "Refused", "agent_fields", "idempotency_key"]

MAX_IDEMPOTENCY_KEY_CHARS: Final = 256


class Refused(Exception):
    """A request the gateway answers with `status` and its own `error` text."""

    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error


def idempotency_key(request: web.Request, payload: dict[str, Any]) -> str | None:
    for raw in (
        request.headers.get("Idempotency-Key"),
        request.headers.get("X-OpenClaw-Idempotency-Key"),
        payload.get("idempotencyKey"),
    ):
        if isinstance(raw, str) and 0 < len(raw.strip()) <= MAX_IDEMPOTENCY_KEY_CHARS:
            return raw.strip()
    return None


def _optional_text(payload: dict[str, Any], key: str) -> str | None:
    value = payload.get(key)
    return (value.strip() or None) if isinstance(value, str) else None


def agent_fields(payload: dict[str, Any], channels: tuple[str, ...]) -> dict[str, Any]:
    """The agent payload normalised, or `Refused` with the gateway's error."""
    message = _optional_text(payload, "message")
    if message is None:
        raise Refused(400, "message required")
    if "agentId" in payload and _optional_text(payload, "agentId") is None:
        raise Refused(400, "agentId must be a non-empty string")
    session_mode = payload.get("sessionMode", "isolated")
    if session_mode not in ("isolated", "persistent"):
        raise Refused(400, "sessionMode must be isolated or persistent")
    fields: dict[str, Any] = {
        "message": message,
        "name": _optional_text(payload, "name") or "Hook",
        "agentId": _optional_text(payload, "agentId"),
        "sessionKey": _optional_text(payload, "sessionKey"),
        "sessionMode": session_mode,
        "wakeMode": "next-heartbeat" if payload.get("wakeMode") == "next-heartbeat" else "now",
        **_delivery(payload, channels),
    }
    if "model" in payload and _optional_text(payload, "model") is None:
        raise Refused(400, "model required")
    fields["model"] = _optional_text(payload, "model")
    fields["thinking"] = _optional_text(payload, "thinking")
    timeout: Any = payload.get("timeoutSeconds")
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        timeout = None
    fields["timeoutSeconds"] = int(timeout) if timeout is not None else None
    return fields


def _delivery(payload: dict[str, Any], channels: tuple[str, ...]) -> dict[str, Any]:
    """`channel` + `to` (+ `accountId`) as the gateway checks them for a direct hook."""
    if payload.get("deliver") is False:
        return {"deliver": False, "channel": "last", "to": None, "accountId": None}
    raw = payload.get("channel")
    known = ("last", *channels)
    channel = raw.strip().lower() if isinstance(raw, str) else None
    if "channel" not in payload:
        channel = "last"
    elif channel not in known:
        raise Refused(400, "channel must be " + "|".join(known))
    to = _optional_text(payload, "to")
    account = _optional_text(payload, "accountId")
    has_channel, has_to, has_account = (k in payload for k in ("channel", "to", "accountId"))
    if has_to and to is None:
        raise Refused(400, "to must be a non-empty string for hook delivery")
    if has_account and account is None:
        raise Refused(400, "accountId must be a non-empty string for hook delivery")
    if has_account and (not has_channel or to is None):
        raise Refused(400, "accountId requires channel and to for hook delivery")
    if (has_channel or has_to) and (not has_channel or to is None):
        raise Refused(400, "channel and to must be set together for hook delivery")
    if (has_channel or has_to) and channel == "last":
        raise Refused(400, "channel must name a concrete channel for hook delivery")
    return {"deliver": True, "channel": channel, "to": to, "accountId": account}
