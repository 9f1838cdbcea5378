"""A call's outcome schema: the JSON Schema an agent gives for the shape of the outcome's
`details` (docs/outcomes.md).

The schema is checked before anything is dialled (`check_outcome_schema`: one sentence
saying what is wrong), and the details the model reports are checked against it
(`SchemaShape.problems`: what does not fit, by path, for the model to correct). Without a
schema the details are free-form (`FREE_FORM`).

Nothing here ever fetches anything: a `$ref` must point inside the schema, and the
validator's registry refuses to retrieve any URI (jsonschema's default registry would
fetch http(s) references).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final, Protocol

import orjson
import referencing
import referencing.exceptions
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing.jsonschema import DRAFT202012

# The schema is part of report_outcome's declaration, which every session of the call is
# given (renewals too) and which counts as input tokens for every response the model makes:
# 16 KiB is roughly 4,000 tokens, about twice the whole of the instructions; a booking's
# schema is well under 2 KiB.
MAX_SCHEMA_BYTES: Final = 16 * 1024
# What goes back to the model about details that do not fit: the first few problems, each
# bounded (a message may quote the model's value, which may be long).
MAX_PROBLEMS: Final = 5
MAX_PROBLEM_CHARS: Final = 200

# Keywords whose value is one subschema, a list of them, or a name → subschema map.
_ONE: Final = frozenset(
    {
        "items",
        "additionalProperties",
        "not",
        "if",
        "then",
        "else",
        "contains",
        "propertyNames",
        "unevaluatedItems",
        "unevaluatedProperties",
    }
)
_LIST: Final = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_MAP: Final = frozenset(
    {"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"}
)


class OutcomeSchemaError(ValueError):
    """The outcome schema is refused; the message is one sentence for people."""


def _refuse_retrieval(uri: str) -> referencing.Resource[Any]:
    raise referencing.exceptions.NoSuchResource(ref=uri)  # type: ignore[call-arg]  # attrs too


# Only the schema itself (and the bundled metaschemas): no URI is ever retrieved.
_REGISTRY: Final[referencing.Registry[Any]] = referencing.Registry(  # type: ignore[call-arg]
    retrieve=_refuse_retrieval  # an attrs field mypy does not see
)
_META: Final = Draft202012Validator(
    Draft202012Validator.META_SCHEMA,
    registry=_REGISTRY,
    format_checker=Draft202012Validator.FORMAT_CHECKER,  # `pattern`s must compile
)


def check_outcome_schema(schema: object) -> dict[str, Any]:
    """`schema` if it may be a call's outcome schema; OutcomeSchemaError saying why not."""
    if not isinstance(schema, dict):
        raise OutcomeSchemaError(
            'outcomeSchema must be a JSON object: a JSON Schema with "type": "object"'
        )
    size = len(orjson.dumps(schema))
    if size > MAX_SCHEMA_BYTES:
        raise OutcomeSchemaError(
            f"outcomeSchema is {size} bytes; at most {MAX_SCHEMA_BYTES} are accepted "
            "(the model is sent it with every response)"
        )
    error = best_match(_META.iter_errors(schema))
    if error is not None:
        raise OutcomeSchemaError(
            "outcomeSchema is not a valid JSON Schema (Draft 2020-12): "
            f"{_bounded(error.message)} ({_where(list(error.absolute_path))})"
        )
    if schema.get("type") != "object":
        raise OutcomeSchemaError(
            'outcomeSchema must have "type": "object" at the top level '
            "(the outcome's details are a JSON object)"
        )
    for path, subschema in subschemas(schema):
        _check_subschema(schema, path, subschema)
    return schema


def _check_subschema(
    root: dict[str, Any], path: list[str | int], subschema: dict[str, Any]
) -> None:
    where = _where(path)
    for keyword in ("$id", "$dynamicRef"):
        if keyword in subschema:
            raise OutcomeSchemaError(
                f"outcomeSchema may not use {keyword} ({where}): references must be plain "
                "'#/...' pointers inside the schema"
            )
    ref = subschema.get("$ref")
    if isinstance(ref, str):
        if not (ref == "#" or ref.startswith("#/")):
            raise OutcomeSchemaError(
                f"outcomeSchema's $ref {_bounded(ref)!r} ({where}) does not point inside the "
                "schema; only '#/...' references are accepted and nothing is ever fetched"
            )
        if not resolves(root, ref):
            raise OutcomeSchemaError(
                f"outcomeSchema's $ref {_bounded(ref)!r} ({where}) points at nothing in the schema"
            )
    kinds = subschema.get("type")
    is_array = kinds == "array" or (isinstance(kinds, list) and "array" in kinds)
    if is_array and "items" not in subschema:
        # OpenAI refuses function parameters with such an array ("array schema missing
        # items"), so the call would fail as soon as its session was configured.
        raise OutcomeSchemaError(
            f'outcomeSchema has an array without "items" ({where}); OpenAI\'s function '
            "parameters need one for every array"
        )


def subschemas(
    schema: Any, path: list[str | int] | None = None
) -> Iterator[tuple[list[str | int], dict[str, Any]]]:
    """Every subschema that is an object, with its path, the schema itself first. Values
    that are data (`enum`, `const`, `default`, `examples`) are not walked: a property named
    "$ref" is not a reference."""
    path = path or []
    if not isinstance(schema, dict):
        return
    yield path, schema
    for keyword, value in schema.items():
        if keyword in _ONE:
            yield from subschemas(value, [*path, keyword])
        elif keyword in _LIST and isinstance(value, list):
            for index, item in enumerate(value):
                yield from subschemas(item, [*path, keyword, index])
        elif keyword in _MAP and isinstance(value, dict):
            for name, item in value.items():
                yield from subschemas(item, [*path, keyword, name])


def resolves(root: dict[str, Any], ref: str) -> bool:
    """Whether `ref`, read against `root`, names something in it (looked up as the
    validator would; the registry retrieves nothing, so another document never resolves)."""
    resolver = _REGISTRY.resolver_with_root(DRAFT202012.create_resource(root))
    try:
        resolver.lookup(ref)
    except referencing.exceptions.Unresolvable:
        return False
    return True


def embedded(schema: dict[str, Any], at: str) -> dict[str, Any]:
    """A copy of `schema` for use as the subschema at JSON pointer `at` of a bigger one:
    its '#/...' references, which mean its own root, are rewritten to point under `at`."""
    copy: dict[str, Any] = orjson.loads(orjson.dumps(schema))
    for _, subschema in subschemas(copy):
        ref = subschema.get("$ref")
        if isinstance(ref, str) and (ref == "#" or ref.startswith("#/")):
            subschema["$ref"] = at + ref[1:]
    return copy


def _where(path: list[str | int]) -> str:
    return "at the top level" if not path else "at " + dotted("", path)


def dotted(root: str, path: list[str | int] | Any) -> str:
    """`root` followed by `path` as `a.b[0].c` (quoted where a name is not a plain word)."""
    out = root
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.replace("_", "").replace("-", "").replace("$", "").isalnum():
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out


def _bounded(text: str) -> str:
    return text if len(text) <= MAX_PROBLEM_CHARS else text[: MAX_PROBLEM_CHARS - 1] + "…"


class DetailsShape(Protocol):
    """What a call's reported details must be like."""

    def problems(self, details: dict[str, Any]) -> list[str]:
        """Why `details` do not fit, one line each, naming where ([] when they fit)."""
        ...


class _FreeForm:
    """No schema: any JSON object will do (as before outcome schemas)."""

    def problems(self, details: dict[str, Any]) -> list[str]:
        return []


FREE_FORM: Final[DetailsShape] = _FreeForm()


class SchemaShape:
    """Details must be valid under the call's (checked) outcome schema."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self._validator = Draft202012Validator(schema, registry=_REGISTRY)

    def problems(self, details: dict[str, Any]) -> list[str]:
        errors = sorted(
            self._validator.iter_errors(details),
            key=lambda e: ([str(p) for p in e.absolute_path], e.message),
        )
        return [
            f"{dotted('details', list(e.absolute_path))}: {_bounded(e.message)}"
            for e in errors[:MAX_PROBLEMS]
        ]
