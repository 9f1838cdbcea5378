"""The overview's figures from the store (call/overview.py), on both backends: calls per
day in a time zone, answered, the success rate among reported outcomes, endings (a dropped
or failed call never completed), cost (pricing.py's, unpriced parts counted apart), turn
latency pooled per day, the direction filter, and the bound on the work."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.helpers.overview_calls import SEEDED_DAYS, seed_calls
from voicecall_rt.call import overview as overview_module
from voicecall_rt.call.overview import Period, TooManyCalls, load_calls, overview
from voicecall_rt.config import Settings
from voicecall_rt.store import Store

SETTINGS = Settings.model_validate({})
FIRST, LAST = SEEDED_DAYS


def endings(day: dict[str, object]) -> dict[str, int]:
    counts = day["endings"]
    assert isinstance(counts, dict)
    return {k: v for k, v in counts.items() if v}


async def test_figures_per_day(store: Store) -> None:
    seed_calls(store)
    result = await overview(store, Period(FIRST, LAST), SETTINGS)
    data = result.model_dump(mode="json", by_alias=True)
    assert (data["from"], data["to"], data["tz"], data["direction"]) == (
        "2026-12-01",
        "2026-12-03",
        "UTC",
        "all",
    )
    one, two, three = data["days"]
    assert [d["date"] for d in data["days"]] == ["2026-12-01", "2026-12-02", "2026-12-03"]
    assert (one["calls"], one["answered"], one["outcomes"], one["succeeded"]) == (4, 4, 2, 1)
    assert one["success_rate"] == 0.5
    assert endings(one) == {"completed": 3, "carrier-drop": 1}
    assert one["cost_usd"] == pytest.approx(0.0368 + 0.0184 + 0.021 + 0.0184)
    assert one["unpriced_calls"] == 0
    assert one["turn_ms"] == {"count": 4, "p50": 500, "p95": 1000, "max": 1000}

    assert (two["calls"], two["answered"], two["outcomes"], two["succeeded"]) == (6, 3, 1, 0)
    assert two["success_rate"] == 0.0
    assert endings(two) == {
        "no-answer": 1,
        "failed": 1,
        "model-error": 1,
        "voicemail": 1,
        "completed": 1,
        "in-progress": 1,
    }
    # The unpriced model's part is unknown: the carrier minutes count, the call is named.
    assert two["cost_usd"] == pytest.approx(3 * 0.0184)
    assert two["unpriced_calls"] == 1
    assert two["turn_ms"] == {"count": 1, "p50": 700, "p95": 700, "max": 700}

    # A day without calls is there, empty.
    assert (three["calls"], three["success_rate"], three["turn_ms"]) == (0, None, None)
    assert endings(three) == {} and three["cost_usd"] == 0

    totals = data["totals"]
    assert totals["calls"] == 10 and totals["success_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert totals["endings"]["completed"] == 4  # never the drop, the failure, the model error
    assert totals["turn_ms"]["count"] == 5
    assert [e["key"] for e in data["endings"]][:3] == ["completed", "transferred", "voicemail"]


async def test_direction_and_time_zone(store: Store) -> None:
    seed_calls(store)
    inbound = await overview(store, Period(FIRST, LAST, direction="inbound"), SETTINGS)
    assert [d.calls for d in inbound.days] == [1, 1, 0]
    assert inbound.totals.endings["completed"] == 2
    outbound = await overview(store, Period(FIRST, LAST, direction="outbound"), SETTINGS)
    assert [d.calls for d in outbound.days] == [3, 5, 0]
    # New York's days: the call at 03:00 UTC on the 1st is its 30 November; the one at
    # 02:00 UTC on the 4th is its 3 December.
    new_york = await overview(store, Period(FIRST, LAST, tz="America/New_York"), SETTINGS)
    assert [d.calls for d in new_york.days] == [3, 6, 1]


async def test_the_work_is_bounded(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    seed_calls(store)
    monkeypatch.setattr(overview_module, "MAX_CALLS", 9)
    with pytest.raises(TooManyCalls, match="more than 9 calls"):
        await load_calls(store, Period(FIRST, LAST))
    monkeypatch.setattr(overview_module, "MAX_CALLS", 10)
    assert len(await load_calls(store, Period(FIRST, LAST))) == 10


async def test_no_calls(store: Store) -> None:
    day = dt.date(2027, 1, 5)
    result = await overview(store, Period(day, day), SETTINGS)
    assert result.totals.calls == 0 and result.totals.success_rate is None
    assert [d.calls for d in result.days] == [0]
