"""GET /api/overview and GET /api/calls.csv over HTTP (web/overview.py): the filters, every
bad parameter refused with its name, the CSV's columns and its formula-safe cells, the
token required, and the answers as the OpenAPI document describes them."""

from __future__ import annotations

import csv
import datetime as dt
import io

import aiohttp
import jsonschema
import pytest

from tests.helpers.overview_calls import FORMULA_SUMMARY, INBOUND_NUMBER, seed_calls
from tests.helpers.world import MakeWorld
from voicecall_rt.call import overview as overview_module
from voicecall_rt.simulator.scenario import CallPlan, ModelScript
from voicecall_rt.simulator.world import SimWorld
from voicecall_rt.web import overview as web_overview
from voicecall_rt.web.overview import CSV_COLUMNS, safe_cell

RANGE = "from=2026-12-01&to=2026-12-03"


async def seeded(make_world: MakeWorld) -> SimWorld:
    world = await make_world(CallPlan(), ModelScript())
    seed_calls(world.server.store)
    await world.server.store.flush()
    return world


async def csv_of(
    http: aiohttp.ClientSession, world: SimWorld, query: str, token: str | None = None
) -> tuple[int, str, dict[str, str]]:
    headers = {"Authorization": f"Bearer {token or world.server.api_token}"}
    async with http.get(f"{world.server.local_url}/api/calls.csv?{query}", headers=headers) as r:
        return r.status, await r.text(), dict(r.headers)


async def test_overview_filters_and_schema(
    make_world: MakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = await seeded(make_world)
    status, body = await world.api("GET", f"/api/overview?{RANGE}")
    assert status == 200
    assert [d["calls"] for d in body["days"]] == [4, 6, 0]
    assert body["days"][0]["endings"]["carrier-drop"] == 1
    assert body["totals"]["endings"]["completed"] == 4
    status, document = await world.api("GET", "/api/openapi.json")
    schema = {"$ref": "#/components/schemas/Overview", "components": document["components"]}
    jsonschema.validate(body, schema)
    assert {"/api/overview", "/api/calls.csv"} <= set(document["paths"])

    status, inbound = await world.api("GET", f"/api/overview?{RANGE}&direction=inbound")
    assert [d["calls"] for d in inbound["days"]] == [1, 1, 0]
    status, zoned = await world.api("GET", f"/api/overview?{RANGE}&tz=America/New_York")
    assert (zoned["tz"], [d["calls"] for d in zoned["days"]]) == ("America/New_York", [3, 6, 1])
    # No dates: the 14 days to today, in the zone asked for.
    monkeypatch.setattr(web_overview, "today_in", lambda zone: dt.date(2026, 12, 14))
    status, recent = await world.api("GET", "/api/overview")
    assert (recent["from"], recent["to"], len(recent["days"])) == ("2026-12-01", "2026-12-14", 14)
    assert recent["totals"]["calls"] == 11


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-13-01", "from"),
        ("from=yesterday", "from"),
        ("to=20261201", "to"),
        ("from=2026-12-05&to=2026-12-01", "from"),
        ("from=2024-01-01&to=2026-12-01", "from"),  # longer than a year
        ("tz=Mars/Olympus_Mons", "tz"),
        ("tz=../../etc/passwd", "tz"),
        ("direction=sideways", "direction"),
    ],
)
async def test_bad_parameters_are_named(make_world: MakeWorld, query: str, field: str) -> None:
    world = await make_world(CallPlan(), ModelScript())
    for path in ("/api/overview", "/api/calls.csv"):
        status, body = await world.api("GET", f"{path}?{query}")
        assert status == 400, (path, query)
        assert body["error"]["field"] == field
        assert body["error"]["message"].startswith(f"{field}: ")
        assert body["error"]["code"] == "invalid-request"


async def test_too_many_calls(make_world: MakeWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    world = await seeded(make_world)
    monkeypatch.setattr(overview_module, "MAX_CALLS", 5)
    status, body = await world.api("GET", f"/api/overview?{RANGE}")
    assert status == 400 and body["error"]["code"] == "too-many-calls"


async def test_the_token_is_required(make_world: MakeWorld, http: aiohttp.ClientSession) -> None:
    world = await seeded(make_world)
    status, _ = await world.api("GET", f"/api/overview?{RANGE}", token="wrong")
    assert status == 401
    status, text, _ = await csv_of(http, world, RANGE, token="wrong")
    assert status == 401 and "call_a" not in text


async def test_csv_of_the_call_list(make_world: MakeWorld, http: aiohttp.ClientSession) -> None:
    world = await seeded(make_world)
    status, text, headers = await csv_of(http, world, RANGE)
    assert status == 200
    assert headers["Content-Type"] == "text/csv; charset=utf-8"
    assert headers["Content-Disposition"] == (
        'attachment; filename="calls-2026-12-01-to-2026-12-03-all.csv"'
    )
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    by_id = {row[0]: dict(zip(CSV_COLUMNS, row, strict=True)) for row in rows[1:]}
    # Newest first; the live call is there, in progress; the call of the 4th is not.
    assert [row[0] for row in rows[1:]] == [
        "call_i", "call_h", "call_g", "call_f", "call_e", "call_d", "call_c", "call_b",
        "call_a", "call_x",
    ]  # fmt: skip
    a = by_id["call_a"]
    assert a["created"] == "2026-12-01T12:00:00+00:00" and a["direction"] == "outbound"
    assert (a["status"], a["ending"], a["end_reason"]) == ("completed", "completed", "model-ended")
    assert (a["duration_s"], a["cost_usd"]) == ("90.0", "0.0368")
    assert (a["outcome_success"], a["outcome_summary"]) == ("true", "Booked a table")
    # Numbers in full, as the API shows them, but never read as a formula.
    assert a["to"] == "'+14155550123"
    assert by_id["call_b"]["ending"] == "carrier-drop"  # never "completed"
    assert by_id["call_f"]["ending"] == "model-error"
    assert by_id["call_g"]["ending"] == "voicemail"
    assert by_id["call_h"]["cost_usd"] == ""  # an unpriced model: unknown, not zero
    assert by_id["call_i"]["ending"] == "in-progress"
    assert by_id["call_d"]["duration_s"] == ""
    c = by_id["call_c"]
    assert c["from"] == "'" + INBOUND_NUMBER and c["outcome_success"] == "false"
    assert c["outcome_summary"] == "'" + FORMULA_SUMMARY

    status, text, headers = await csv_of(
        http, world, RANGE + "&direction=inbound&tz=America/New_York"
    )
    rows = list(csv.reader(io.StringIO(text)))
    assert [row[0] for row in rows[1:]] == ["call_h", "call_c"]
    assert rows[2][1] == "2026-12-01T09:00:00-05:00"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("plain", "plain"),
        ("a=b", "a=b"),
        (None, ""),
        (0.5, "0.5"),
    ],
)
def test_safe_cell(value: object, shown: str) -> None:
    assert safe_cell(value) == shown
