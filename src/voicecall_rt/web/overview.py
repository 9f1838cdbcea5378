"""`GET /api/overview` (how calls go, day by day: call/overview.py) and `GET /api/calls.csv`
(the same calls as a spreadsheet), both behind the API's token check like all of `/api/`.

Query: `from` and `to` (YYYY-MM-DD, both included; default the last 14 days to today),
`direction` (all, outbound, inbound; default all), `tz` (an IANA zone the days are counted
in; default UTC). A bad value is a 400 whose message and `field` name the parameter.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Mapping
from typing import Any, Final, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from aiohttp import web

from voicecall_rt.call.overview import (
    MAX_DAYS,
    CallFacts,
    Direction,
    Period,
    TooManyCalls,
    load_calls,
    summarise,
)
from voicecall_rt.config import Settings
from voicecall_rt.pricing import call_cost
from voicecall_rt.web.keys import SETTINGS, STORE

DEFAULT_DAYS: Final = 14
_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
_DIRECTIONS: Final = ("all", "outbound", "inbound")
CSV_COLUMNS: Final = (
    "id",
    "created",
    "direction",
    "from",
    "to",
    "status",
    "ending",
    "end_reason",
    "duration_s",
    "cost_usd",
    "outcome_success",
    "outcome_summary",
)
# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


class QueryError(ValueError):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.field = name


def today_in(zone: ZoneInfo) -> dt.date:
    """Today in `zone` (a module function so that tests can move the clock)."""
    return dt.datetime.now(zone).date()


def _date(query: Mapping[str, str], name: str) -> dt.date | None:
    given = query.get(name, "").strip()
    if not given:
        return None
    if not _DATE.fullmatch(given):
        raise QueryError(name, f"{given[:40]!r} is not a date (YYYY-MM-DD)")
    try:
        return dt.date.fromisoformat(given)
    except ValueError:
        raise QueryError(name, f"{given!r} is not a date of the calendar") from None


def period_of(query: Mapping[str, str]) -> Period:
    """The period a request asks for; QueryError naming the parameter otherwise."""
    tz = query.get("tz", "").strip() or "UTC"
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        message = f"{tz[:60]!r} is not a known time zone (IANA, e.g. Europe/Paris)"
        raise QueryError("tz", message) from None
    direction = query.get("direction", "").strip() or "all"
    if direction not in _DIRECTIONS:
        raise QueryError("direction", f"{direction[:40]!r} is not one of all, outbound, inbound")
    last = _date(query, "to") or today_in(zone)
    first = _date(query, "from") or last - dt.timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise QueryError("from", f"{first} is after to ({last})")
    if (last - first).days + 1 > MAX_DAYS:
        raise QueryError("from", f"the range is longer than {MAX_DAYS} days")
    return Period(first, last, tz, cast(Direction, direction))


def _bad(status: int, code: str, message: str, name: str | None = None) -> web.Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if name is not None:
        error["field"] = name
    return web.Response(
        body=orjson.dumps({"error": error}), status=status, content_type="application/json"
    )


async def _calls(request: web.Request) -> tuple[Period, list[CallFacts]] | web.Response:
    try:
        period = period_of(request.query)
        return period, await load_calls(request.app[STORE], period)
    except QueryError as exc:
        return _bad(400, "invalid-request", str(exc), exc.field)
    except TooManyCalls as exc:
        return _bad(400, "too-many-calls", f"from: {exc}", "from")


async def overview(request: web.Request) -> web.Response:
    found = await _calls(request)
    if isinstance(found, web.Response):
        return found
    period, calls = found
    summary = summarise(calls, period, request.app[SETTINGS])
    return web.Response(
        body=orjson.dumps(summary.model_dump(mode="json", by_alias=True)),
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def safe_cell(value: Any) -> str:
    """A CSV cell a spreadsheet shows as text: one that could start a formula gets a `'`."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_row(facts: CallFacts, period: Period, settings: Settings) -> list[str]:
    record = facts.record
    created = dt.datetime.fromtimestamp(record.created_at / 1000, period.zone)
    outcome = record.outcome
    duration = record.duration_s
    values: list[Any] = [
        record.id,
        created.isoformat(timespec="seconds"),
        record.direction,
        record.from_number,  # in full, as the API shows them
        record.to_number,
        record.status.value,
        facts.ending.value,
        record.end_reason,
        None if duration is None else round(duration, 1),
        call_cost(record, settings).total_usd,
        None if outcome is None else str(outcome.success).lower(),
        None if outcome is None else outcome.summary,
    ]
    return [safe_cell(v) for v in values]


async def calls_csv(request: web.Request) -> web.Response:
    found = await _calls(request)
    if isinstance(found, web.Response):
        return found
    period, calls = found
    settings = request.app[SETTINGS]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(csv_row(facts, period, settings) for facts in calls)
    name = f"calls-{period.first}-to-{period.last}-{period.direction}.csv"
    return web.Response(
        body=out.getvalue().encode(),
        content_type="text/csv",
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/api/overview", overview, allow_head=False)
    app.router.add_get("/api/calls.csv", calls_csv, allow_head=False)


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "description": description, "schema": schema}


_PARAMETERS: Final = [
    _query(
        "from",
        "first day, included (default: 13 days before `to`)",
        {"type": "string", "format": "date"},
    ),
    _query(
        "to", "last day, included (default: today in `tz`)", {"type": "string", "format": "date"}
    ),
    _query("direction", "which calls (default all)", {"type": "string", "enum": list(_DIRECTIONS)}),
    _query("tz", "the IANA time zone days are counted in (default UTC)", {"type": "string"}),
]
_REFUSED: Final = {
    "description": "a bad parameter (invalid-request; `field` names it) or more calls than "
    "one request reads (too-many-calls)",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
# Merged into web/openapi.py's document (the Overview schema with its parts too).
OPENAPI_PATHS: Final[dict[str, Any]] = {
    "/api/overview": {
        "get": {
            "summary": "How calls go, day by day: calls, answered, success rate among "
            "reported outcomes, endings, cost, turn latency p50/p95",
            "parameters": _PARAMETERS,
            "responses": {
                "200": {
                    "description": "the figures, per day and in total",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Overview"}}
                    },
                },
                "400": _REFUSED,
            },
        }
    },
    "/api/calls.csv": {
        "get": {
            "summary": "The same calls as CSV, newest first (" + ", ".join(CSV_COLUMNS) + "); "
            "a cell that could start a spreadsheet formula begins with '",
            "parameters": _PARAMETERS,
            "responses": {
                "200": {
                    "description": "the call list",
                    "content": {"text/csv": {"schema": {"type": "string"}}},
                },
                "400": _REFUSED,
            },
        }
    },
}
