"""Strict check of one Realtime (GA) server event against the openai SDK's own types.

The fake Realtime server runs every event it sends through this, so a payload the real API
could not have sent (a wrong field name, a missing required field, an undeclared key) shows
up in the fake's own bookkeeping instead of teaching the bridge a shape that does not exist.
Like `client_event_check`, it walks the parsed models for keys no SDK model declares; the only
ones allowed are the server-side fields a session object carries beyond its request type
(`id`, `object`, `expires_at`), which the real API sends too.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Final

import pydantic
from openai.types.realtime import RealtimeServerEvent

from voicecall_rt.simulator.openai.sdk_types import Path, dotted, first_extra, variants

__all__ = ["check_server_event"]

_SESSION_EXTRAS: Final = frozenset({"id", "object", "expires_at"})


@cache
def _variants() -> dict[str, type[pydantic.BaseModel]]:
    return variants(RealtimeServerEvent)


def _session_extra(path: Path, key: str) -> bool:
    return path == ("session",) and key in _SESSION_EXTRAS


def check_server_event(event: dict[str, Any]) -> str | None:
    """None when `event` is a valid GA server event, else why not."""
    cls = _variants().get(str(event.get("type")))
    if cls is None:
        return f"unknown server event type {event.get('type')!r}"
    try:
        parsed = cls.model_validate(event)
    except pydantic.ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"{event['type']}: {where}: {first['msg']}"
    extra = first_extra(parsed, (), _session_extra)
    return None if extra is None else f"{event['type']}: undeclared key {dotted(extra)}"
