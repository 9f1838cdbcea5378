"""The published OpenAPI document is valid, and real responses match its schemas."""

from __future__ import annotations

from typing import Any

import jsonschema
from openapi_spec_validator import validate

from tests.helpers.world import MakeWorld
from voicecall_rt.simulator.scenarios import pizza_booking


def _schema(document: dict[str, Any], name: str) -> dict[str, Any]:
    # Resolve component references against the whole document.
    return {"$ref": f"#/components/schemas/{name}", "components": document["components"]}


async def test_openapi_document_is_valid_and_matches_responses(make_world: MakeWorld) -> None:
    scenario = pizza_booking(scale=0.3)
    world = await make_world(scenario.carrier, scenario.model)
    status, document = await world.api("GET", "/api/openapi.json")
    assert status == 200
    validate(document)  # raises on any violation of the OpenAPI 3.1 specification
    assert set(document["paths"]) >= {
        "/api/calls",
        "/api/calls/{call_id}",
        "/api/calls/{call_id}/hangup",
        "/api/calls/{call_id}/events",
    }

    status, placed = await world.api(
        "POST", "/api/calls", {"to": scenario.to_number, "task": scenario.task}
    )
    assert status == 201
    jsonschema.validate(placed, _schema(document, "CallEnvelope"))
    call_id = placed["call"]["id"]
    detail = await world.wait_call(call_id)
    jsonschema.validate(detail, _schema(document, "CallDetail"))
    status, listing = await world.api("GET", "/api/calls")
    jsonschema.validate(listing, _schema(document, "CallList"))
    status, error = await world.api("POST", "/api/calls", {"to": "nope", "task": "x"})
    assert status == 400
    jsonschema.validate(error, _schema(document, "Error"))


async def test_openapi_needs_the_token(make_world: MakeWorld) -> None:
    scenario = pizza_booking(scale=0.3)
    world = await make_world(scenario.carrier, scenario.model)
    status, _ = await world.api("GET", "/api/openapi.json", token="wrong")
    assert status == 401


async def test_openapi_documents_the_outcome_schema(make_world: MakeWorld) -> None:
    scenario = pizza_booking(scale=0.3)
    world = await make_world(scenario.carrier, scenario.model)
    status, document = await world.api("GET", "/api/openapi.json")
    assert status == 200
    schemas = document["components"]["schemas"]
    field = schemas["PlaceCallRequest"]["properties"]["outcomeSchema"]
    assert {"type": "object", "additionalProperties": True} in field["anyOf"]
    assert "docs/outcomes.md" in field["description"]
    assert "outcome_schema" in schemas["CallRecord"]["properties"]
    # A refused schema is the usual error document.
    body = {"to": scenario.to_number, "task": scenario.task, "outcomeSchema": {"type": "array"}}
    status, error = await world.api("POST", "/api/calls", body)
    assert status == 400 and error["error"]["code"] == "invalid-outcome-schema"
    jsonschema.validate(error, _schema(document, "Error"))
