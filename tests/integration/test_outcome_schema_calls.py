"""Outcome schemas in whole calls (docs/outcomes.md): the model is told the schema as
report_outcome's `details`, every session of the call alike; details that do not fit go
back to it as an error naming what is wrong, and only details that fit are stored. A bad
schema is refused by the API and the CLI before anything is dialled.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.helpers.cli import cli, one_line, world_config
from tests.helpers.phone import TO, function_outputs, tool_names
from tests.helpers.world import MakeWorld
from tests.helpers.world_carrier import twilio_of
from voicecall_rt.prompts import END_CALL, SEND_DTMF, TOOLS
from voicecall_rt.simulator import scenario
from voicecall_rt.simulator.openai.client_event_check import check_client_event
from voicecall_rt.simulator.openai.session import FakeSession
from voicecall_rt.simulator.scenario import CallPlan, CallTool, ModelScript, Say, Speak
from voicecall_rt.simulator.world import SimWorld

TASK = "Book a table for four tonight at 7pm under the name Kim."
BOOKING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "party_size": {"type": "integer", "minimum": 1},
        "time": {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$"},
        "confirmation": {"type": "string"},
    },
    "required": ["party_size", "time"],
    "additionalProperties": False,
}
MISFIT = {"success": True, "summary": "Booked.", "details": {"party_size": "four", "time": "7pm"}}
FITS = {
    "success": True,
    "summary": "Booked a table for four at 7 pm under Kim.",
    "details": {"party_size": 4, "time": "19:00", "confirmation": "A12"},
}
HELLO = "Luigi's, hello."


def booking_script(*reports: dict[str, Any]) -> ModelScript:
    """The model reports each of `reports` in turn (each answer prompts the next turn), then
    says goodbye and hangs up."""
    return ModelScript(
        turns=(
            *((CallTool("report_outcome", report),) for report in reports),
            (Say("Thank you, goodbye.", 300), CallTool("end_call", {"reason": "booked"})),
        ),
        caller_transcripts=(HELLO,),
    )


def declared(session: FakeSession) -> dict[str, dict[str, Any]]:
    """The tools the session was configured with, by name."""
    update = next(e for e in session.received if e["type"] == "session.update")
    return {tool["name"]: tool for tool in update["session"]["tools"]}


async def place_booking(world: SimWorld, schema: dict[str, Any]) -> dict[str, Any]:
    call_id = await world.place(TO, TASK, outcomeSchema=schema)
    await world.carrier.wait_call()
    return await world.wait_call(call_id)


async def test_details_that_do_not_fit_go_back_and_the_corrected_ones_are_stored(
    make_world: MakeWorld,
) -> None:
    world = await make_world(
        CallPlan(ring_ms=100, callee=(Speak(HELLO, 300),)), booking_script(MISFIT, FITS)
    )
    data = await place_booking(world, BOOKING_SCHEMA)

    session = world.model.last_session
    names = tool_names(session)
    results = [
        (names[item["call_id"]], orjson.loads(item["output"]))
        for _, item in function_outputs(session)
    ]
    assert [name for name, _ in results] == ["report_outcome", "report_outcome"]
    first, second = results[0][1], results[1][1]
    assert first["ok"] is False
    assert "details.party_size: 'four' is not of type 'integer'" in first["error"]
    assert "details.time: '7pm' does not match" in first["error"]
    assert "call report_outcome again" in first["error"]
    assert second == {"ok": True}

    record = data["call"]
    assert record["status"] == "completed" and record["end_reason"] == "model-ended"
    assert record["outcome"] == FITS  # the second report, as the schema has it
    assert record["outcome_schema"] == BOOKING_SCHEMA
    # The journal tells both: the refused report and the stored one, nothing else.
    errors = [e["data"] for e in data["events"] if e["kind"] == "tool.error"]
    assert [e["name"] for e in errors] == ["report_outcome"]
    assert errors[0]["error"] == first["error"]
    outcomes = [e["data"] for e in data["events"] if e["kind"] == "outcome"]
    assert outcomes == [FITS]


async def test_the_model_is_told_the_schema_as_report_outcome_details(
    make_world: MakeWorld,
) -> None:
    world = await make_world(
        CallPlan(ring_ms=100, callee=(Speak(HELLO, 300),)), booking_script(FITS)
    )
    data = await place_booking(world, BOOKING_SCHEMA)
    assert data["call"]["outcome"] == FITS

    session = world.model.last_session
    tools = declared(session)
    assert list(tools) == ["send_dtmf", "report_outcome", "end_call", "mark_do_not_call"]
    parameters = tools["report_outcome"]["parameters"]
    assert parameters["properties"]["details"] == BOOKING_SCHEMA
    # success and summary are as they always were; the other tools are untouched.
    free_form = next(t for t in TOOLS if t["name"] == "report_outcome")["parameters"]
    assert parameters["required"] == free_form["required"] == ["success", "summary"]
    for key in ("success", "summary"):
        assert parameters["properties"][key] == free_form["properties"][key]
    assert tools["send_dtmf"] == SEND_DTMF and tools["end_call"] == END_CALL
    # The fake model took the declaration as the real API would (it refuses bad schemas).
    assert session.invalid == []
    assert [t["name"] for t in session.config["tools"]] == list(tools)
    update = next(e for e in session.received if e["type"] == "session.update")
    assert check_client_event(update) is None


async def test_without_a_schema_the_details_stay_free_form(make_world: MakeWorld) -> None:
    anything = {"success": True, "summary": "Booked.", "details": {"party": "four", "at": "7pm"}}
    world = await make_world(
        CallPlan(ring_ms=100, callee=(Speak(HELLO, 300),)), booking_script(anything)
    )
    call_id = await world.place(TO, TASK)
    await world.carrier.wait_call()
    data = await world.wait_call(call_id)
    assert data["call"]["outcome"] == anything
    assert data["call"]["outcome_schema"] is None
    assert declared(world.model.last_session) == {t["name"]: t for t in TOOLS}


async def test_a_renewed_session_declares_the_same_schema(make_world: MakeWorld) -> None:
    """Session renewal replays the call's configuration: the tools with the schema too (a
    schema with its own '#/$defs' references, which must still resolve where it is put)."""
    schema = {
        "type": "object",
        "properties": {"slot": {"$ref": "#/$defs/slot"}, "party_size": {"type": "integer"}},
        "required": ["slot"],
        "$defs": {"slot": {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$"}},
    }
    fits = {"success": True, "summary": "Booked.", "details": {"slot": "19:00", "party_size": 4}}
    script = ModelScript(
        turns=(
            (Say("Hi, a table for four at seven, please.", 400),),
            (Say("Thank you!", 300), CallTool("report_outcome", fits)),
            (Say("Goodbye!", 300), CallTool("end_call", {"reason": "booked"})),
        ),
        caller_transcripts=(HELLO, "Booked."),
    )
    callee = (
        Speak(HELLO, 300),
        scenario.WaitForModel(quiet_ms=200),
        scenario.Pause(1500),  # the model session is lost here
        Speak("Booked.", 300),
        scenario.WaitForModel(quiet_ms=200),
    )
    world = await make_world(CallPlan(ring_ms=100, callee=callee), script)
    call_id = await world.place(TO, TASK, outcomeSchema=schema)
    sim = await world.carrier.wait_call()
    await world.model.wait_for(
        lambda: (
            bool(world.model.sessions)
            and world.model.turns_played >= 1
            and world.model.last_session.active_response_id is None
        )
    )
    await sim.wait_for(lambda: any(m for m in sim.received if m.get("event") == "mark"))
    await world.model.drop_sessions()
    data = await world.wait_call(call_id)

    assert data["call"]["outcome"] == fits
    assert len(world.model.sessions) == 2
    first, second = world.model.sessions[0], world.model.sessions[1]
    assert declared(first) == declared(second)
    details = declared(second)["report_outcome"]["parameters"]["properties"]["details"]
    # The schema as given, its reference now pointing at where it sits in the declaration.
    assert details["properties"]["slot"] == {"$ref": "#/properties/details/$defs/slot"}
    assert details["$defs"] == schema["$defs"]
    assert first.invalid == [] and second.invalid == []


# ---- refused before dialling ---------------------------------------------------------------


BAD_SCHEMAS = [
    pytest.param([{"type": "object"}], "outcomeSchema", id="not-an-object"),
    pytest.param({"type": "integr"}, "not a valid JSON Schema", id="not-a-schema"),
    pytest.param({"type": "array", "items": {}}, '"type": "object"', id="not-type-object"),
    pytest.param({"type": "object", "description": "x" * 17_000}, "at most 16384", id="too-large"),
    pytest.param(
        {"type": "object", "properties": {"a": {"$ref": "https://schemas.example/a.json"}}},
        "nothing is ever fetched",
        id="remote-ref",
    ),
    pytest.param(
        {"type": "object", "properties": {"a": {"type": "array"}}},
        'without "items"',
        id="array-without-items",
    ),
]


@pytest.mark.parametrize(("schema", "reason"), BAD_SCHEMAS)
async def test_the_api_refuses_a_bad_schema_before_dialling(
    make_world: MakeWorld, schema: Any, reason: str
) -> None:
    world = await make_world(CallPlan(ring_ms=100), ModelScript())
    status, data = await world.api(
        "POST", "/api/calls", {"to": TO, "task": TASK, "outcomeSchema": schema}
    )
    assert status == 400
    assert data["error"]["code"] in ("invalid-outcome-schema", "invalid-request")
    message = data["error"]["message"]
    assert reason in message and "\n" not in message and "Traceback" not in message
    # Nothing was dialled, nothing was recorded.
    fake = twilio_of(world)
    assert fake.requests == [] and fake.created == []
    assert (await world.api("GET", "/api/calls"))[1]["calls"] == []


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('{"type": "object", ', "is not valid JSON"),
        ('{"type": "object", "properties": {"a": {"$ref": "http://x/a.json"}}}', "fetched"),
        ('{"type": "string"}', '"type": "object"'),
    ],
    ids=["not-json", "remote-ref", "not-type-object"],
)
async def test_the_cli_refuses_a_bad_schema_file_before_dialling(
    make_world: MakeWorld, tmp_path: Path, content: str, reason: str
) -> None:
    world = await make_world(CallPlan(ring_ms=100), ModelScript())
    schema_file = tmp_path / "booking.schema.json"
    schema_file.write_text(content, encoding="utf-8")
    config = world_config(world, tmp_path)
    code, out, err = await cli(
        "call", "-n", TO, "-t", TASK, "--outcome-schema", str(schema_file), config=config
    )
    assert code == 1, (out, err)
    line = one_line(err)
    assert reason in line and line.startswith(f"error: {schema_file.name}")
    assert "Traceback" not in err and out == ""
    fake = twilio_of(world)
    assert fake.requests == [] and fake.created == []


async def test_the_cli_sends_the_schema_and_calls_show_prints_it(
    make_world: MakeWorld, tmp_path: Path
) -> None:
    world = await make_world(
        CallPlan(ring_ms=100, callee=(Speak(HELLO, 300),)), booking_script(FITS)
    )
    schema_file = tmp_path / "booking.schema.json"
    schema_file.write_text(json.dumps(BOOKING_SCHEMA), encoding="utf-8")
    config = world_config(world, tmp_path)
    code, out, err = await cli(
        "call",
        "-n",
        TO,
        "-t",
        TASK,
        "--outcome-schema",
        str(schema_file),
        "--wait",
        "--json",
        config=config,
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["outcome"] == FITS
    code, out, err = await cli("calls", "show", result["call_id"], "--json", config=config)
    assert code == 0, err
    assert json.loads(out)["call"]["outcome_schema"] == BOOKING_SCHEMA
