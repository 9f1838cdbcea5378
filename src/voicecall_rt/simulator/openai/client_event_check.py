"""Strict check of one Realtime (GA) client event against the openai SDK's own types.

The SDK's pydantic models accept unknown keys silently (`extra="allow"`), so a beta-protocol
leftover such as `session.modalities` or a Chat-Completions-style nested `tools[].function`
validates fine on its own. The real API rejects those (`Unknown parameter: ...`), so after the
SDK validation we also walk the parsed models and reject any `model_extra`.

Used by the fake Realtime server on every received event and directly by tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import pydantic
from openai.types.realtime import RealtimeClientEvent

from voicecall_rt.simulator.openai.sdk_types import dotted, first_extra, variants

__all__ = ["ClientEventProblem", "check_client_event", "diagnose_client_event", "known_types"]


@dataclass(frozen=True)
class ClientEventProblem:
    """Why an event is invalid, shaped like the real API's `error` payload fields."""

    code: str  # unknown_parameter | missing_required_parameter | invalid_value | invalid_type
    message: str
    param: str | None = None


@cache
def _adapter() -> pydantic.TypeAdapter[Any]:
    return pydantic.TypeAdapter(RealtimeClientEvent)


@cache
def _variants() -> dict[str, type[pydantic.BaseModel]]:
    return variants(RealtimeClientEvent)


def known_types() -> frozenset[str]:
    """Every client event `type` the installed SDK knows."""
    return frozenset(_variants())


def check_client_event(event: dict[str, Any]) -> str | None:
    """None when `event` is a valid GA client event, else a human-readable reason."""
    problem = diagnose_client_event(event)
    return None if problem is None else problem.message


def diagnose_client_event(event: Any) -> ClientEventProblem | None:
    """Like `check_client_event`, with the error code and parameter path the API would give."""
    if not isinstance(event, dict):
        return ClientEventProblem("invalid_type", "Client events must be JSON objects.")
    event_type = event.get("type")
    if not isinstance(event_type, str):
        return ClientEventProblem(
            "missing_required_parameter", "Missing required parameter: 'type'.", "type"
        )
    if event_type not in _variants():
        supported = ", ".join(f"'{t}'" for t in sorted(_variants()))
        return ClientEventProblem(
            "invalid_value",
            f"Invalid value: '{event_type}'. Supported values are: {supported}.",
            "type",
        )
    try:
        parsed = _adapter().validate_python(event)
    except pydantic.ValidationError:
        # The SDK union is not discriminated for pydantic, so its errors list every variant.
        # Re-validate against the one variant whose `type` matches for a focused reason.
        try:
            _variants()[event_type].model_validate(event)
        except pydantic.ValidationError as exc:
            return _from_validation_error(exc)
        # Unreachable in practice (variant valid ⇒ union valid); keep a truthful answer.
        return ClientEventProblem("invalid_value", f"Invalid '{event_type}' event.")
    extra_path = first_extra(parsed)
    extra = None if extra_path is None else dotted(extra_path)
    if extra is not None:
        return ClientEventProblem("unknown_parameter", f"Unknown parameter: '{extra}'.", extra)
    return None


def _field_path(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    # pydantic puts union branch labels in `loc` ("RealtimeSessionCreateRequest",
    # "literal['a','b']", "function-after[...]"); field names are snake_case, so drop the rest.
    return tuple(p for p in loc if _is_field(p))


def _is_field(part: str | int) -> bool:
    return isinstance(part, int) or (part[:1].islower() and part.replace("_", "").isalnum())


def _branch(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """`loc` up to and including its last union branch label."""
    labels = [i for i, part in enumerate(loc) if not _is_field(part)]
    return loc[: labels[-1] + 1] if labels else ()


def _from_validation_error(exc: pydantic.ValidationError) -> ClientEventProblem:
    errors = exc.errors(include_url=False)
    # Drop union branches whose own `type`/`role` literal did not match: they are the wrong
    # kind of item entirely, and their "missing field" errors would only mislead.
    wrong = {
        _branch(tuple(e["loc"]))
        for e in errors
        if e["type"] == "literal_error"
        and e["loc"]
        and e["loc"][-1] in ("type", "role")
        and tuple(e["loc"][:-1]) == _branch(tuple(e["loc"]))
        and _branch(tuple(e["loc"]))
    }
    relevant = [e for e in errors if not any(tuple(e["loc"])[: len(b)] == b for b in wrong)]
    errors = relevant or errors
    # Union errors list every branch. The deepest error comes from the branch that matched
    # furthest (e.g. an assistant message with a bad content type, rather than "missing
    # arguments" from the function_call branch); at equal depth a missing field is usually
    # the root cause (beta-shaped sessions lack `type`).
    errors.sort(
        key=lambda e: (-len(_field_path(tuple(e["loc"]))), 0 if e["type"] == "missing" else 1)
    )
    first = errors[0]
    field_path = _field_path(tuple(first["loc"]))
    param = dotted(field_path) or None
    if first["type"] == "missing":
        return ClientEventProblem(
            "missing_required_parameter", f"Missing required parameter: '{param}'.", param
        )
    code = "invalid_type" if first["type"].endswith("_type") else "invalid_value"
    where = f" at '{param}'" if param else ""
    detail = first["msg"]
    if first["type"] == "literal_error":
        # Every branch of a tagged union (e.g. audio formats) failed on the same tag: list
        # what all of them would have accepted, not just the first branch's literal.
        expected = [
            str(e.get("ctx", {}).get("expected"))
            for e in errors
            if e["type"] == "literal_error" and _field_path(tuple(e["loc"])) == field_path
        ]
        detail = f"Input should be {' or '.join(dict.fromkeys(expected))}"
    return ClientEventProblem(code, f"Invalid value{where}: {detail}.", param)
