"""The fake Realtime server checks a function tool's `parameters` as the real API does
(simulator/openai/function_rules.py): what we declare passes, and every outcome schema we
would refuse is one the fake refuses too, so a refusal on our side never hides a call that
the real service would have failed."""

from __future__ import annotations

from typing import Any

import pytest

from voicecall_rt.call.tools import call_tools
from voicecall_rt.outcome_schema import OutcomeSchemaError, check_outcome_schema
from voicecall_rt.prompts import TOOLS, declare_tools
from voicecall_rt.simulator.openai.client_event_check import check_client_event
from voicecall_rt.simulator.openai.function_rules import function_parameters_problem
from voicecall_rt.simulator.openai.realtime_rules import session_update_problem

PARAM = "session.tools[1].parameters"
BOOKING = {
    "type": "object",
    "properties": {
        "party_size": {"type": "integer"},
        "slots": {"type": "array", "items": {"$ref": "#/$defs/slot"}},
    },
    "$defs": {"slot": {"type": "string"}},
}


def message(parameters: Any, name: str = "report_outcome") -> str | None:
    problem = function_parameters_problem({"name": name, "parameters": parameters}, PARAM)
    if problem is None:
        return None
    assert (problem.code, problem.param) == ("invalid_function_parameters", PARAM)
    return problem.message


def session_update(tools: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "session.update", "session": {"type": "realtime", "tools": tools}}


@pytest.mark.parametrize("schema", [None, BOOKING, {"type": "object"}])
def test_our_declarations_pass(schema: dict[str, Any] | None) -> None:
    declarations = call_tools(schema).declarations
    event = session_update(declarations)
    assert check_client_event(event) is None
    assert (
        session_update_problem(event["session"], model=None, voice=None, audio_started=False)
        is None
    )


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        (
            {"properties": {}},
            "schema must be a JSON Schema of 'type: \"object\"', got 'type: \"None\"'.",
        ),
        ([], "schema must be a JSON Schema of 'type: \"object\"', got 'type: \"None\"'."),
        (
            {"type": "string"},
            "schema must be a JSON Schema of 'type: \"object\"', got 'type: \"string\"'.",
        ),
        (
            {"type": "object", "properties": []},
            "[] is not of type 'object'.",
        ),
        (
            {"type": "object", "properties": {"configs": {"type": "array"}}},
            "In context=('properties', 'configs'), array schema missing items.",
        ),
        (
            {"type": "object", "properties": {"a": {"$ref": "#/$defs/nope"}}},
            "In context=('properties', 'a'), reference to component '#/$defs/nope' which was "
            "not found in the schema.",
        ),
        (
            {"type": "object", "properties": {"a": {"$ref": "https://schemas.example/a"}}},
            "In context=('properties', 'a'), reference to component "
            "'https://schemas.example/a' which was not found in the schema.",
        ),
    ],
)
def test_refusals_in_the_api_s_words(parameters: Any, expected: str) -> None:
    assert message(parameters) == f"Invalid schema for function 'report_outcome': {expected}"


def test_values_in_enums_are_data() -> None:
    assert message({"type": "object", "properties": {"v": {"enum": [{"type": "array"}]}}}) is None


def test_a_schema_embedded_without_rewriting_its_references_would_be_refused() -> None:
    """Why call_tools rewrites '#/...': in the declaration, '#' is the parameters' root."""
    raw = declare_tools(BOOKING)[1]["parameters"]
    assert "reference to component '#/$defs/slot'" in (message(raw) or "")
    assert message(call_tools(BOOKING).declarations[1]["parameters"]) is None


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"a": {"type": "array"}}},
        {"type": "object", "properties": {"a": {"type": "integr"}}},
        {"type": "object", "properties": {"a": {"$ref": "https://schemas.example/a"}}},
        {"type": "object", "properties": {"a": {"$ref": "#/$defs/nope"}}},
    ],
)
def test_what_the_fake_refuses_we_refuse_first(schema: dict[str, Any]) -> None:
    assert message(declare_tools(schema)[1]["parameters"]) is not None
    with pytest.raises(OutcomeSchemaError):
        check_outcome_schema(schema)


def test_the_free_form_tools_are_unchanged() -> None:
    assert [message(t["parameters"], t["name"]) for t in TOOLS] == [None, None, None, None]
