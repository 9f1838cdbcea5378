"""The local API (bearer token from the data dir): what the CLI, agents and the demo use."""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
from typing import Any, Literal

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from voicecall_rt.call.admission import PlaceError
from voicecall_rt.call.records import CallRecord, CallStatus
from voicecall_rt.call.scheduling import CallRequest
from voicecall_rt.call.stats import latency_summary
from voicecall_rt.carrier.base import CarrierError
from voicecall_rt.config import Settings
from voicecall_rt.model import catalog
from voicecall_rt.pricing import call_cost
from voicecall_rt.store.errors import StoreError
from voicecall_rt.web import session
from voicecall_rt.web.keys import API_TOKEN, MANAGER, SCHEDULER, SETTINGS, STORE

MAX_WAIT_S = 60.0
_PLACE_STATUS = {
    "invalid-number": 400,
    "invalid-task": 400,
    "invalid-outcome-schema": 400,
    "invalid-time": 400,  # `at`: not ISO 8601, in the past, too far ahead
    "invalid-time-zone": 400,
    "limit": 429,
    # The guards (call/guards.py): never placed, whoever asks again.
    "emergency-number": 403,
    "premium-number": 403,
    "blocked-number": 403,
    "daily-spend-limit": 429,  # until the day ends in limits.timeZone
    "outside-calling-hours": 409,  # until the next allowed time, which the message gives
    "config": 503,
    "draining": 503,  # shutting down: another instance takes it
    "store": 503,  # the shared database is away: the limit cannot be counted
    "public-url": 503,
    "carrier": 502,
}


class PlaceCallRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    to: str = Field(max_length=32)
    task: str = Field(default="", max_length=8000)
    system_prompt: str | None = Field(default=None, alias="systemPrompt", max_length=16000)
    # Handed back untouched with the result by the notify webhook (OpenClaw's `sessionKey`).
    session_key: str | None = Field(
        default=None, alias="sessionKey", max_length=256, pattern=r"^[^\x00-\x20\x7f]+$"
    )
    outcome_schema: dict[str, Any] | None = Field(
        default=None,
        alias="outcomeSchema",
        description=(
            'A JSON Schema ("type": "object", Draft 2020-12, at most 16 KiB, only "#/..." '
            "references) for the outcome's details; the model must report details that "
            "fit it. Refused before dialling if invalid (docs/outcomes.md)."
        ),
    )
    at: str | None = Field(
        default=None,
        max_length=64,
        description=(
            "Place the call later: an ISO 8601 time with an offset or Z"
            " ('2026-03-02T09:30:00+01:00'), or without one and with timeZone. Refused in the"
            " past or more than 366 days ahead. Answered 202 with the schedule."
        ),
    )
    time_zone: str | None = Field(
        default=None,
        alias="timeZone",
        max_length=64,
        description="The IANA time zone of an `at` without an offset ('Europe/Paris').",
    )
    when_allowed: bool = Field(
        default=False,
        alias="whenAllowed",
        description=(
            "Outside the callee's calling hours (calls.hours), schedule the call for the"
            " next allowed time (202) instead of refusing it (409)."
        ),
    )


class RealtimeModelStatus(BaseModel):
    model: str
    shutdown_date: dt.date | None = Field(description="announced shutdown; null: none")
    reasoning: bool = Field(description="a reasoning model (it gets the reasoning effort)")
    reasoning_effort: str = Field(description="openai.reasoningEffort, as configured")


class TranscriptionModelStatus(BaseModel):
    model: str
    shutdown_date: dt.date | None = Field(description="announced shutdown; null: none")
    language: str | None


class ModelNotice(BaseModel):
    """A configured model with an announced shutdown: a warning, an error once it is due."""

    level: Literal["warning", "error"]
    setting: str
    model: str
    shutdown_date: dt.date
    successor: str | None
    days_left: int
    message: str


class ModelsStatus(BaseModel):
    realtime: RealtimeModelStatus
    transcription: TranscriptionModelStatus
    notices: list[ModelNotice]


def today() -> dt.date:
    """Today, for shutdown notices (a module function so that tests can move the clock)."""
    return dt.date.today()


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def _error(status: int, code: str, message: str) -> web.Response:
    return _json({"error": {"code": code, "message": message}}, status)


# For the routes in other modules (web/schedules_api.py).
json_response = _json
error_response = _error


def call_json(record: CallRecord, settings: Settings) -> dict[str, Any]:
    """A call as the API shows it: the record, plus its cost at the configured prices."""
    data = record.model_dump(mode="json")
    data["cost"] = call_cost(record, settings).model_dump(mode="json")
    return data


@web.middleware
async def require_token(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.path.startswith("/api/") or request.path == "/metrics":
        expected = request.app[API_TOKEN]
        given = request.headers.get("Authorization")
        if given is not None or not session.from_request(request, expected):
            # An Authorization header is judged alone; without one, the dashboard's cookie.
            if not hmac.compare_digest((given or "").encode(), f"Bearer {expected}".encode()):
                return _error(401, "unauthorized", "a valid bearer token is required")
        elif (reason := session.forgery_reason(request)) is not None:
            # Cookie auth: SameSite=Strict keeps other sites out, but other origins on the
            # same site (another localhost port) still get the cookie, so unsafe methods must
            # be JSON (forms cannot send it; scripts elsewhere need a CORS preflight we never
            # grant) from our own Origin. See voicecall_rt.web.session.
            return _error(403, "forbidden", reason)
    try:
        response: web.StreamResponse = await handler(request)
    except StoreError as exc:
        # The database is away (PostgreSQL restarting, say): live calls go on, reads wait.
        return _error(503, "store", f"the call history cannot be read now: {exc}")
    return response


async def place_call(request: web.Request) -> web.Response:
    try:
        body = PlaceCallRequest.model_validate(orjson.loads(await request.read()))
    except (orjson.JSONDecodeError, ValidationError) as exc:
        detail = (
            str(exc).splitlines()[0]
            if isinstance(exc, orjson.JSONDecodeError)
            else "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                for e in exc.errors(include_input=False)
            )
        )
        return _error(400, "invalid-request", detail)
    asked = CallRequest(
        to=body.to,
        task=body.task,
        system_prompt=body.system_prompt,
        notify_session_key=body.session_key,
        outcome_schema=body.outcome_schema,
        at=body.at,
        time_zone=body.time_zone,
        when_allowed=body.when_allowed,
    )
    try:
        record, schedule = await request.app[SCHEDULER].request(asked)
    except PlaceError as exc:
        return _error(_PLACE_STATUS.get(exc.code, 400), exc.code, str(exc))
    scheduled = {} if schedule is None else {"schedule": schedule.model_dump(mode="json")}
    if record is None:  # stored for later (call/scheduler.py)
        return _json(scheduled, 202)
    return _json({"call": call_json(record, request.app[SETTINGS]), **scheduled}, 201)


async def openapi(request: web.Request) -> web.Response:
    from voicecall_rt.web.openapi import openapi_document  # imports this module

    return _json(openapi_document())


async def models_status(request: web.Request) -> web.Response:
    """`GET /api/models`: the configured models and any announced shutdown (the dashboard
    shows the notices as a banner)."""
    ai = request.app[SETTINGS].openai
    status = ModelsStatus(
        realtime=RealtimeModelStatus(
            model=ai.model,
            shutdown_date=catalog.shutdown_date(ai.model),
            reasoning=catalog.supports_reasoning(ai.model),
            reasoning_effort=ai.reasoning_effort,
        ),
        transcription=TranscriptionModelStatus(
            model=ai.transcription_model,
            shutdown_date=catalog.shutdown_date(ai.transcription_model),
            language=ai.transcription_language,
        ),
        notices=[
            ModelNotice.model_validate(n.as_json())
            for n in catalog.shutdown_notices(request.app[SETTINGS], today())
        ],
    )
    return _json(status.model_dump(mode="json"))


def query_limit(request: web.Request) -> int | None:
    """A list's `?limit=` (1–500, 50 if absent); None if it is not a number."""
    try:
        return max(1, min(500, int(request.query.get("limit", "50"))))
    except ValueError:
        return None


async def list_calls(request: web.Request) -> web.Response:
    limit = query_limit(request)
    if limit is None:
        return _error(400, "invalid-request", "limit must be a number")
    active_only = request.query.get("active", "") in ("1", "true")
    records = await request.app[STORE].list_calls(limit=limit, active_only=active_only)
    settings = request.app[SETTINGS]
    return _json({"calls": [call_json(r, settings) for r in records]})


async def get_call(request: web.Request) -> web.Response:
    call_id = request.match_info["call_id"]
    store = request.app[STORE]
    try:
        wait = min(MAX_WAIT_S, max(0.0, float(request.query.get("wait", "0"))))
    except ValueError:
        return _error(400, "invalid-request", "wait must be a number of seconds")
    manager = request.app[MANAGER]
    if wait > 0:
        await manager.wait(call_id, wait)
    # Whether it is active is read before the record: a call that settles in between then
    # shows active with its final status (the agent polls once more), never inactive with
    # a status that is not final.
    active = manager.is_active(call_id)
    await store.flush()
    record = await store.get_call(call_id)
    if record is None:
        return _error(404, "not-found", "no such call")
    active = active or manager.is_live(record)  # run by another instance
    transcript = await store.transcript(call_id)
    events = await store.events(call_id)
    return _json(
        {
            "call": call_json(record, request.app[SETTINGS]),
            "active": active,
            "transcript": [line.model_dump(mode="json") for line in transcript],
            "events": [event.model_dump(mode="json") for event in events],
            "latency": latency_summary(events).model_dump(mode="json"),
        }
    )


async def hang_up(request: web.Request) -> web.Response:
    call_id = request.match_info["call_id"]
    try:
        if not await request.app[MANAGER].hang_up(call_id):
            return _error(404, "not-found", "no such active call")
    except CarrierError as exc:  # a call another instance runs, hung up through the carrier
        return _error(502, "carrier", str(exc))
    return _json({"ok": True})


KEEPALIVE_S = 15.0


def _sse(kind: str, data: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


async def call_events(request: web.Request) -> web.StreamResponse:
    """Server-sent events for one call: its history so far, then live until it settles.

    Entries are what the call's journal records (transcript lines, tool calls, status
    changes, latency); the stream ends with an `end` event carrying the final record.
    """
    call_id = request.match_info["call_id"]
    manager, store = request.app[MANAGER], request.app[STORE]
    queue = manager.hub.follow(call_id)  # before reading history: nothing falls in between
    try:
        record = await store.get_call(call_id)
        if record is None:
            return _error(404, "not-found", "no such call")
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        seen_lines = seen_events = 0
        history: list[tuple[int, str, dict[str, Any]]] = []
        for line in await store.transcript(call_id):
            seen_lines = max(seen_lines, line.seq)
            history.append((line.t_ms, "transcript", {"kind": "transcript", **line.model_dump()}))
        for event in await store.events(call_id):
            seen_events = max(seen_events, event.seq)
            history.append((event.t_ms, event.kind, event.model_dump()))
        for _, kind, data in sorted(history, key=lambda entry: entry[0]):
            await response.write(_sse(kind, data))
        # A call another instance runs is followed through the live feed until its final
        # status comes; its record is read again now and then in case that was missed.
        elsewhere = not manager.is_active(call_id) and manager.is_live(record)
        while manager.is_active(call_id) or elsewhere or not queue.empty():
            try:
                async with asyncio.timeout(KEEPALIVE_S):
                    entry = await queue.get()
            except TimeoutError:
                await response.write(b": keepalive\n\n")
                if elsewhere:
                    latest = await store.get_call(call_id)
                    elsewhere = latest is not None and manager.is_live(latest)
                continue
            if entry["kind"] == "call.status" and CallStatus(entry["data"]["status"]).terminal:
                elsewhere = False
            seen = seen_lines if entry["kind"] == "transcript" else seen_events
            if entry.get("seq", seen + 1) <= seen:
                continue  # already sent from the history
            await response.write(_sse(entry["kind"], entry))
        final = await store.get_call(call_id)
        if final is not None:
            await response.write(_sse("end", {"call": call_json(final, request.app[SETTINGS])}))
        return response
    except ConnectionResetError:
        return response  # the follower left (a closed page, a stopped CLI): nothing to do
    finally:
        manager.hub.unfollow(queue, call_id)
