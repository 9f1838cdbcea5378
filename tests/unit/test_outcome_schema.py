"""Outcome schemas (docs/outcomes.md): each reason a schema is refused, with its sentence;
details checked against a schema, with what goes back to the model; nothing fetched."""

from __future__ import annotations

import urllib.request
from typing import Any

import orjson
import pytest

from voicecall_rt.call.records import Outcome
from voicecall_rt.call.tools import FREE_FORM_TOOLS, ToolError, call_tools, outcome_from
from voicecall_rt.outcome_schema import (
    FREE_FORM,
    MAX_SCHEMA_BYTES,
    OutcomeSchemaError,
    SchemaShape,
    check_outcome_schema,
    embedded,
)
from voicecall_rt.prompts import DETAILS_POINTER, TOOLS

BOOKING: dict[str, Any] = {
    "type": "object",
    "properties": {
        "party_size": {"type": "integer", "minimum": 1},
        "time": {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$"},
        "dishes": {"type": "array", "items": {"$ref": "#/$defs/dish"}},
    },
    "required": ["party_size", "time"],
    "additionalProperties": False,
    "$defs": {"dish": {"type": "string", "enum": ["pasta", "pizza"]}},
}


def refusal(schema: Any) -> str:
    with pytest.raises(OutcomeSchemaError) as info:
        check_outcome_schema(schema)
    message = str(info.value)
    assert "\n" not in message and message.startswith("outcomeSchema")
    return message


# ---- what is accepted ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "schema",
    [
        BOOKING,
        {"type": "object"},
        {"type": "object", "properties": {"tree": {"$ref": "#"}}},
        {
            "type": "object",
            "properties": {"a/b": {"type": "string"}, "x": {"$ref": "#/properties/a~1b"}},
        },
        {"type": "object", "properties": {"tags": {"type": ["array", "null"], "items": {}}}},
        # Data is not schema: an enum value shaped like a remote reference is just a value.
        {"type": "object", "properties": {"v": {"enum": [{"$ref": "https://x/y"}]}}},
        # A property *named* $ref or $id is a name, not a keyword.
        {"type": "object", "properties": {"$ref": {"type": "string"}, "$id": {"type": "string"}}},
        # Other dialects' $schema are accepted and read as Draft 2020-12.
        {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"},
    ],
)
def test_accepted(schema: dict[str, Any]) -> None:
    assert check_outcome_schema(schema) is schema


def test_a_schema_at_the_size_limit_is_accepted() -> None:
    base = orjson.dumps({"type": "object", "description": ""})
    schema = {"type": "object", "description": "x" * (MAX_SCHEMA_BYTES - len(base))}
    assert len(orjson.dumps(schema)) == MAX_SCHEMA_BYTES
    assert check_outcome_schema(schema) is schema


# ---- each refusal, in one sentence -------------------------------------------------------------

NOT_AN_OBJECT = 'outcomeSchema must be a JSON object: a JSON Schema with "type": "object"'
NOT_A_SCHEMA = "outcomeSchema is not a valid JSON Schema (Draft 2020-12): "
NOT_TYPE_OBJECT = (
    'outcomeSchema must have "type": "object" at the top level '
    "(the outcome's details are a JSON object)"
)
OUTSIDE = (
    "(at properties.a) does not point inside the schema; only '#/...' references are "
    "accepted and nothing is ever fetched"
)
BASE_URIS = "references must be plain '#/...' pointers inside the schema"
NO_ITEMS = "OpenAI's function parameters need one for every array"


def prop(schema: dict[str, Any]) -> dict[str, Any]:
    """An object schema whose one property `a` is `schema`."""
    return {"type": "object", "properties": {"a": schema}}


# JSON values that are not objects.
NOT_OBJECTS: tuple[Any, ...] = ([], "object", 1, None, True)
REFUSALS: list[tuple[Any, str]] = [
    # Not a JSON object at all.
    *((value, NOT_AN_OBJECT) for value in NOT_OBJECTS),
    # Not a JSON Schema (Draft 2020-12's metaschema, `pattern`s compiled).
    (
        {"type": "integr"},
        NOT_A_SCHEMA + "'integr' is not valid under any of the given schemas (at type)",
    ),
    (
        {"type": "object", "required": "t"},
        NOT_A_SCHEMA + "'t' is not of type 'array' (at required)",
    ),
    (
        prop({"minimum": "1"}),
        NOT_A_SCHEMA + "'1' is not of type 'number' (at properties.a.minimum)",
    ),
    (prop({"pattern": "("}), NOT_A_SCHEMA + "'(' is not a 'regex' (at properties.a.pattern)"),
    (
        prop({"items": [{"type": "string"}]}),
        NOT_A_SCHEMA
        + "[{'type': 'string'}] is not of type 'object', 'boolean' (at properties.a.items)",
    ),
    # The top level is not `"type": "object"`.
    ({"properties": {"a": {"type": "string"}}}, NOT_TYPE_OBJECT),
    ({"type": "array", "items": {}}, NOT_TYPE_OBJECT),
    ({"type": ["object", "null"]}, NOT_TYPE_OBJECT),
    ({"anyOf": [{"type": "object"}]}, NOT_TYPE_OBJECT),
    # References that do not point inside the schema (an anchor included: only pointers).
    *(
        (prop({"$ref": ref}), f"outcomeSchema's $ref {ref!r} {OUTSIDE}")
        for ref in (
            "https://schemas.example/booking.json",
            "http://127.0.0.1:1/a.json#/x",
            "booking.json#/$defs/x",
            "file:///etc/passwd",
            "#slot",
        )
    ),
    (
        prop({"$ref": "#/$defs/missing"}),
        "outcomeSchema's $ref '#/$defs/missing' (at properties.a) points at nothing in the schema",
    ),
    (
        {"type": "object", "$id": "https://schemas.example/b"},
        f"outcomeSchema may not use $id (at the top level): {BASE_URIS}",
    ),
    (
        prop({"$dynamicRef": "#meta"}),
        f"outcomeSchema may not use $dynamicRef (at properties.a): {BASE_URIS}",
    ),
    # Arrays without `items`, wherever they are.
    (
        prop({"type": "array"}),
        f'outcomeSchema has an array without "items" (at properties.a); {NO_ITEMS}',
    ),
    (
        prop({"type": ["array", "null"]}),
        f'outcomeSchema has an array without "items" (at properties.a); {NO_ITEMS}',
    ),
    (
        {"type": "object", "$defs": {"list": {"anyOf": [{"type": "array"}]}}},
        f'outcomeSchema has an array without "items" (at $defs.list.anyOf[0]); {NO_ITEMS}',
    ),
]


@pytest.mark.parametrize(("schema", "message"), REFUSALS)
def test_each_refusal_in_one_sentence(schema: Any, message: str) -> None:
    assert refusal(schema) == message


def test_refused_when_too_large() -> None:
    schema = {"type": "object", "description": "x" * MAX_SCHEMA_BYTES}
    size = len(orjson.dumps(schema))
    assert refusal(schema) == (
        f"outcomeSchema is {size} bytes; at most 16384 are accepted "
        "(the model is sent it with every response)"
    )


def test_nothing_is_ever_fetched(monkeypatch: pytest.MonkeyPatch) -> None:
    """Even a schema that skipped the checks (a remote $ref) resolves nothing over the
    network: the validator's registry refuses to retrieve (jsonschema's default would)."""
    fetched: list[Any] = []
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: fetched.append(a))
    shape = SchemaShape(
        {"type": "object", "properties": {"a": {"$ref": "http://127.0.0.1:9/a.json"}}}
    )
    with pytest.raises(Exception, match="Unresolvable"):
        shape.problems({"a": 1})
    assert fetched == []


# ---- details against the schema --------------------------------------------------------------


def test_details_that_fit() -> None:
    details = {"party_size": 4, "time": "19:00", "dishes": ["pasta"]}
    assert SchemaShape(BOOKING).problems(details) == []


def test_what_does_not_fit_is_named_by_path() -> None:
    problems = SchemaShape(BOOKING).problems(
        {"party_size": "four", "time": "7pm", "dishes": ["pasta", "soup"], "mood": "happy"}
    )
    assert problems == [
        "details: Additional properties are not allowed ('mood' was unexpected)",
        "details.dishes[1]: 'soup' is not one of ['pasta', 'pizza']",
        "details.party_size: 'four' is not of type 'integer'",
        "details.time: '7pm' does not match '^[0-2][0-9]:[0-5][0-9]$'",
    ]


def test_missing_details_are_named() -> None:
    assert SchemaShape(BOOKING).problems({}) == [
        "details: 'party_size' is a required property",
        "details: 'time' is a required property",
    ]


def test_problems_are_few_and_bounded() -> None:
    schema = {"type": "object", "additionalProperties": {"type": "integer"}}
    problems = SchemaShape(schema).problems({f"k{i}": "x" * 1000 for i in range(20)})
    assert len(problems) == 5
    assert all(len(p) <= len("details.k00: ") + 200 for p in problems)


def test_free_form_takes_anything() -> None:
    assert FREE_FORM.problems({"anything": [1, {"at": "all"}]}) == []


def test_outcome_from_with_a_schema() -> None:
    shape = SchemaShape(BOOKING)
    good = {"success": True, "summary": "Booked.", "details": {"party_size": 4, "time": "19:00"}}
    assert outcome_from(good, shape) == Outcome.model_validate(good)
    with pytest.raises(ToolError) as info:
        outcome_from({**good, "details": {"party_size": "four", "time": "19:00"}}, shape)
    assert str(info.value) == (
        "report_outcome details do not fit the outcome schema: details.party_size: 'four' is "
        "not of type 'integer'. Nothing was recorded: correct the details and call "
        "report_outcome again."
    )
    # No details at all are checked as {}: the schema's required fields are missing.
    with pytest.raises(ToolError, match="'party_size' is a required property"):
        outcome_from({"success": False, "summary": "Closed."}, shape)


def test_outcome_fields_are_checked_before_the_details() -> None:
    with pytest.raises(ToolError, match="invalid report_outcome arguments: success"):
        outcome_from({"summary": "x", "details": {"party_size": "four"}}, SchemaShape(BOOKING))


# ---- the tools a call declares ---------------------------------------------------------------


def test_without_a_schema_the_tools_are_today_s() -> None:
    assert call_tools(None) is FREE_FORM_TOOLS
    assert FREE_FORM_TOOLS.declarations == TOOLS and FREE_FORM_TOOLS.details is FREE_FORM


def test_with_a_schema_report_outcome_details_are_the_schema() -> None:
    tools = call_tools(BOOKING)
    by_name = {t["name"]: t for t in tools.declarations}
    assert [t["name"] for t in tools.declarations] == [t["name"] for t in TOOLS]
    details = by_name["report_outcome"]["parameters"]["properties"]["details"]
    assert details == embedded(BOOKING, DETAILS_POINTER)
    assert details["properties"]["dishes"]["items"] == {"$ref": "#/properties/details/$defs/dish"}
    assert BOOKING["properties"]["dishes"]["items"] == {"$ref": "#/$defs/dish"}  # not changed
    assert isinstance(tools.details, SchemaShape) and tools.details.schema is BOOKING


def test_embedding_rewrites_only_pointer_references() -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "self": {"$ref": "#"},
            "slot": {"$ref": "#/$defs/slot"},
            "v": {"enum": [{"$ref": "#/not/a/reference"}]},
        },
        "$defs": {"slot": {"type": "string"}},
    }
    out = embedded(schema, "#/properties/details")
    assert out["properties"]["self"] == {"$ref": "#/properties/details"}
    assert out["properties"]["slot"] == {"$ref": "#/properties/details/$defs/slot"}
    assert out["properties"]["v"] == schema["properties"]["v"]
