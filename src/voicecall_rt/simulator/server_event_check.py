"""Strict check of one Realtime (GA) server event against the openai SDK's own types.

The fake Realtime server runs every event it sends through this, so a payload the real API
could not have sent (a wrong field name, a missing required field, an undeclared key) shows
up in the fake's own bookkeeping instead of teaching the bridge a shape that does not exist.
Like `client_event_check`, it walks the parsed models for keys no SDK model declares; the only
ones allowed are the server-side fields a session object carries beyond its request type
(`id`, `object`, `expires_at`), which the real API sends too.
"""

from __future__ import annotations

import typing
from functools import cache
from typing import Any, Final

import pydantic
from openai.types.realtime import RealtimeServerEvent

__all__ = ["check_server_event"]

_SESSION_EXTRAS: Final = frozenset({"id", "object", "expires_at"})


@cache
def _variants() -> dict[str, type[pydantic.BaseModel]]:
    """`type` literal → SDK model class, read from the union itself so it tracks the SDK."""
    union, *_ = typing.get_args(RealtimeServerEvent)  # Annotated[Union[...], PropertyInfo]
    out: dict[str, type[pydantic.BaseModel]] = {}
    for cls in typing.get_args(union):
        for literal in typing.get_args(cls.model_fields["type"].annotation):
            out[literal] = cls
    return out


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
    extra = _first_extra(parsed, ())
    return None if extra is None else f"{event['type']}: undeclared key {extra}"


def _first_extra(value: object, path: tuple[str, ...]) -> str | None:
    if isinstance(value, pydantic.BaseModel):
        for key in value.model_extra or {}:
            if not (path == ("session",) and key in _SESSION_EXTRAS):
                return ".".join((*path, key))
        for name in type(value).model_fields:
            found = _first_extra(getattr(value, name), (*path, name))
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = _first_extra(item, (*path, f"[{index}]"))
            if found is not None:
                return found
    elif isinstance(value, dict):
        for key, item in value.items():
            found = _first_extra(item, (*path, str(key)))
            if found is not None:
                return found
    return None
