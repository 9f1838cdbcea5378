"""Reading the openai SDK's Realtime event unions, shared by the client- and server-event
checks: which model class each event `type` names, and the first key no model declares
(the SDK's models accept extra keys; the real API refuses them from clients and never sends
them)."""

from __future__ import annotations

import typing
from collections.abc import Callable

import pydantic

Path = tuple[str | int, ...]


def variants(event_union: object) -> dict[str, type[pydantic.BaseModel]]:
    """`type` literal → SDK model class, read from the union itself so it tracks the SDK."""
    union, *_ = typing.get_args(event_union)  # Annotated[Union[...], PropertyInfo]
    out: dict[str, type[pydantic.BaseModel]] = {}
    for cls in typing.get_args(union):
        for literal in typing.get_args(cls.model_fields["type"].annotation):
            out[literal] = cls
    return out


def first_extra(
    value: object, path: Path = (), allowed: Callable[[Path, str], bool] | None = None
) -> Path | None:
    """Path of the first key no SDK model declared (depth first, in field order), except
    those `allowed(path, key)` lets pass."""
    if isinstance(value, pydantic.BaseModel):
        for key in value.model_extra or {}:
            if allowed is None or not allowed(path, key):
                return (*path, key)
        for name in type(value).model_fields:
            found = first_extra(getattr(value, name), (*path, name), allowed)
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = first_extra(item, (*path, index), allowed)
            if found is not None:
                return found
    elif isinstance(value, dict):
        # Free-form JSON (tool `parameters`, `metadata`): only models nested inside matter.
        for key, item in value.items():
            found = first_extra(item, (*path, str(key)), allowed)
            if found is not None:
                return found
    return None


def dotted(path: Path) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out
