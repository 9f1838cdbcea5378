"""The local API described as OpenAPI 3.1, built from the models the API itself uses."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode

from voicecall_rt import __version__
from voicecall_rt.call.overview import Overview
from voicecall_rt.call.records import CallEvent, CallRecord, TranscriptLine
from voicecall_rt.call.stats import LatencySummary
from voicecall_rt.pricing import CallCost
from voicecall_rt.web.api import ModelsStatus, PlaceCallRequest
from voicecall_rt.web.overview import OPENAPI_PATHS as OVERVIEW_PATHS
from voicecall_rt.web.schedules_api import ScheduleDetail

_REF = "#/components/schemas/"


def _schemas(*models: type[BaseModel], mode: JsonSchemaMode) -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(by_alias=True, ref_template=_REF + "{model}", mode=mode)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return schemas


def _json(ref: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {"$ref": _REF + ref}}}}


def _ok(ref: str, description: str) -> dict[str, Any]:
    return {"description": description, **_json(ref)}


_ERRORS = {
    "401": {"description": "missing or wrong bearer token", **_json("Error")},
    "404": {"description": "no such call", **_json("Error")},
}
_CALL_ID = {"name": "call_id", "in": "path", "required": True, "schema": {"type": "string"}}
_SCHEDULE_ID = {"name": "schedule_id", "in": "path", "required": True, "schema": {"type": "string"}}


def openapi_document() -> dict[str, Any]:
    # Requests as they are validated, responses as they are serialised (computed fields too).
    schemas = _schemas(PlaceCallRequest, mode="validation")
    schemas |= _schemas(CallRecord, TranscriptLine, CallEvent, mode="serialization")
    # The API's call is the stored record plus its cost (web/api.py call_json).
    schemas |= _schemas(CallCost, LatencySummary, ModelsStatus, Overview, mode="serialization")
    schemas["CallRecord"]["properties"]["cost"] = {"$ref": _REF + "CallCost"}
    schemas["CallRecord"]["required"].append("cost")
    schemas["Error"] = {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            }
        },
    }
    schemas |= _schemas(ScheduleDetail, mode="serialization")  # Schedule, ScheduleAttempt
    schemas["CallEnvelope"] = {
        "type": "object",
        "required": ["call"],
        "properties": {
            "call": {"$ref": _REF + "CallRecord"},
            # With calls.retry.attempts > 1: the schedule of its follow-up attempts.
            "schedule": {"$ref": _REF + "Schedule"},
        },
    }
    schemas["ScheduleEnvelope"] = {
        "type": "object",
        "required": ["schedule"],
        "properties": {"schedule": {"$ref": _REF + "Schedule"}},
    }
    schemas["ScheduleList"] = {
        "type": "object",
        "required": ["schedules"],
        "properties": {"schedules": {"type": "array", "items": {"$ref": _REF + "Schedule"}}},
    }
    schemas["CallList"] = {
        "type": "object",
        "required": ["calls"],
        "properties": {"calls": {"type": "array", "items": {"$ref": _REF + "CallRecord"}}},
    }
    schemas["CallDetail"] = {
        "type": "object",
        "required": ["call", "active", "transcript", "events", "latency"],
        "properties": {
            "call": {"$ref": _REF + "CallRecord"},
            "active": {"type": "boolean"},
            "transcript": {"type": "array", "items": {"$ref": _REF + "TranscriptLine"}},
            "events": {"type": "array", "items": {"$ref": _REF + "CallEvent"}},
            "latency": {"$ref": _REF + "LatencySummary"},
        },
    }
    schemas["RecordingList"] = {  # web/dashboard.py list_recordings
        "type": "object",
        "required": ["recordings"],
        "properties": {
            "recordings": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "bytes", "url"],
                    "properties": {
                        "name": {"type": "string"},
                        "bytes": {"type": "integer"},
                        "url": {"type": "string"},
                    },
                },
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "voicecall-rt local API",
            "version": __version__,
            "description": "Place and follow AI phone calls. Every route needs "
            "`Authorization: Bearer <token>` (the token is in the data dir's `api-token`).",
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/calls": {
                "post": {
                    "summary": "Place an outbound call",
                    "requestBody": {"required": True, **_json("PlaceCallRequest")},
                    "responses": {
                        "201": _ok("CallEnvelope", "the carrier accepted the call"),
                        "202": _ok(
                            "ScheduleEnvelope",
                            "stored for later (`at`, or `whenAllowed` outside calling hours)",
                        ),
                        "400": {
                            "description": "invalid number or request; invalid-time (`at`"
                            " unreadable, without offset or timeZone, in the past, more than"
                            " 366 days ahead) or invalid-time-zone: nothing stored",
                            **_json("Error"),
                        },
                        "403": {
                            "description": "a guard refuses the number: emergency-number,"
                            " premium-number or blocked-number (the blocklist, or a callee"
                            " who asked not to be called again)",
                            **_json("Error"),
                        },
                        "409": {
                            "description": "outside-calling-hours: calls.hours do not allow"
                            " a call to this number now; the message gives the next allowed"
                            " time, in the callee's zone and UTC",
                            **_json("Error"),
                        },
                        "429": {
                            "description": "concurrent call limit reached (limit), or"
                            " today's calls have cost limits.dailySpendUsd (daily-spend-limit)",
                            **_json("Error"),
                        },
                        "502": {"description": "the carrier refused", **_json("Error")},
                        "503": {
                            "description": "configuration incomplete, or the server is draining",
                            **_json("Error"),
                        },
                        "401": _ERRORS["401"],
                    },
                },
                "get": {
                    "summary": "Recent calls, newest first",
                    "parameters": [
                        {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                        {"name": "active", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": {"200": _ok("CallList", "calls"), "401": _ERRORS["401"]},
                },
            },
            "/api/calls/{call_id}": {
                "get": {
                    "summary": "One call, with transcript and events",
                    "parameters": [
                        _CALL_ID,
                        {
                            "name": "wait",
                            "in": "query",
                            "description": "long-poll up to this many seconds (≤ 60) "
                            "for the call to settle",
                            "schema": {"type": "number"},
                        },
                    ],
                    "responses": {"200": _ok("CallDetail", "the call"), **_ERRORS},
                }
            },
            "/api/calls/{call_id}/hangup": {
                "post": {
                    "summary": "Hang up a live call",
                    "parameters": [_CALL_ID],
                    "responses": {
                        "200": {"description": "hanging up"},
                        **_ERRORS,
                        "502": {
                            "description": "the carrier refused to end a call another "
                            "instance runs",
                            **_json("Error"),
                        },
                    },
                }
            },
            "/api/calls/{call_id}/events": {
                "get": {
                    "summary": "The call's journal as server-sent events: history, then live, "
                    "ending with an `end` event carrying the final call",
                    "parameters": [_CALL_ID],
                    "responses": {
                        "200": {
                            "description": "an event stream",
                            "content": {"text/event-stream": {"schema": {"type": "string"}}},
                        },
                        **_ERRORS,
                    },
                }
            },
            "/api/calls/{call_id}/recordings": {
                "get": {
                    "summary": "The call's debug recordings (`debug: true` only) that exist",
                    "parameters": [_CALL_ID],
                    "responses": {"200": _ok("RecordingList", "recordings"), **_ERRORS},
                }
            },
            "/api/calls/{call_id}/recordings/{name}": {
                "get": {
                    "summary": "One debug recording as WAV",
                    "parameters": [
                        _CALL_ID,
                        {
                            "name": "name",
                            "in": "path",
                            "required": True,
                            "schema": {"enum": ["call.wav", "caller.wav", "model.wav"]},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "the WAV file",
                            "content": {"audio/wav": {"schema": {"type": "string"}}},
                        },
                        **_ERRORS,
                    },
                }
            },
            **OVERVIEW_PATHS,  # web/overview.py
            "/api/schedules": {
                "get": {
                    "summary": "Scheduled calls and retries: live ones first (soonest due),"
                    " then the newest",
                    "parameters": [
                        {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                        {"name": "live", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": {"200": _ok("ScheduleList", "schedules"), "401": _ERRORS["401"]},
                }
            },
            "/api/schedules/{schedule_id}": {
                "get": {
                    "summary": "One schedule, with its attempts (each its own call)",
                    "parameters": [_SCHEDULE_ID],
                    "responses": {"200": _ok("ScheduleDetail", "the schedule"), **_ERRORS},
                },
                "delete": {
                    "summary": "Cancel: a pending call is never placed; after a live attempt"
                    " no further one is",
                    "parameters": [_SCHEDULE_ID],
                    "responses": {
                        "200": _ok("ScheduleEnvelope", "canceled"),
                        **_ERRORS,
                        "409": {
                            "description": "schedule-over: done, failed or canceled already",
                            **_json("Error"),
                        },
                    },
                },
            },
            "/api/models": {
                "get": {
                    "summary": "The configured Realtime and transcription models, and a notice "
                    "for each with an announced shutdown (an error once its date has come)",
                    "responses": {"200": _ok("ModelsStatus", "the models"), "401": _ERRORS["401"]},
                }
            },
            "/api/openapi.json": {
                "get": {
                    "summary": "This document",
                    "responses": {"200": {"description": "OpenAPI 3.1"}},
                }
            },
        },
    }
