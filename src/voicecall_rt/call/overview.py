"""How calls go, day by day, from the store: the dashboard's overview (docs/business.md
§The overview dashboard) and the call list it exports.

For a range of days in one time zone and a direction: per day the calls created, how many
were answered, the success rate (outcome.success among the calls whose model reported an
outcome: calls without one are not in the denominator), how they ended (call/endings.py),
their cost (pricing.py's, as the API shows a call; an unpriced model's part counts nothing
and the call is counted in `unpriced_calls`) and the turn latency (p50/p95 of the day's
`turn.latency` samples, pooled across its calls).

Bounded work: at most `MAX_DAYS` days and `MAX_CALLS` calls per request, two queries.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

import orjson
from pydantic import BaseModel, ConfigDict, Field

from voicecall_rt.call.endings import LABELS, Ending, ending
from voicecall_rt.call.guards import spent_usd
from voicecall_rt.call.records import CallRecord
from voicecall_rt.call.stats import Percentiles
from voicecall_rt.config import Settings
from voicecall_rt.pricing import call_cost
from voicecall_rt.store.base import Store

MAX_DAYS: Final = 366
MAX_CALLS: Final = 20_000
Direction = Literal["all", "outbound", "inbound"]
# The journal's events the overview reads (call/conversation.py writes both).
_EVENTS: Final = """
    SELECT e.call_id, e.kind, e.data FROM events e JOIN calls c ON c.id = e.call_id
    WHERE c.created_at >= ? AND c.created_at < ? {direction}
      AND e.kind IN ('turn.latency', 'voicemail')
"""


class TooManyCalls(Exception):
    """More than MAX_CALLS calls in the range: a narrower one is needed."""


@dataclass(frozen=True, slots=True)
class Period:
    """Days `first` to `last` (both included) in `tz`, calls of `direction`."""

    first: dt.date
    last: dt.date
    tz: str = "UTC"
    direction: Direction = "all"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def bounds_ms(self) -> tuple[int, int]:
        """[midnight of the first day, midnight after the last) in `tz`, epoch ms."""
        zone = self.zone
        start = dt.datetime.combine(self.first, dt.time(), zone)
        end = dt.datetime.combine(self.last + dt.timedelta(days=1), dt.time(), zone)
        return int(start.timestamp() * 1000), int(end.timestamp() * 1000)

    def days(self) -> list[dt.date]:
        return [self.first + dt.timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    def day_of(self, epoch_ms: int) -> dt.date:
        return dt.datetime.fromtimestamp(epoch_ms / 1000, self.zone).date()

    @property
    def stored_direction(self) -> str | None:
        return None if self.direction == "all" else self.direction


@dataclass(slots=True)
class CallFacts:
    """A stored call with what its journal adds for the overview."""

    record: CallRecord
    turn_ms: list[int] = field(default_factory=list)
    voicemail_left: bool = False

    @property
    def ending(self) -> Ending:
        return ending(self.record, voicemail_left=self.voicemail_left)


async def load_calls(store: Store, period: Period) -> list[CallFacts]:
    """The period's calls, newest first, with their turn latencies; TooManyCalls past
    MAX_CALLS."""
    since, until = period.bounds_ms()
    direction = period.stored_direction
    records = await store.calls_created_between(
        since, until, direction=direction, limit=MAX_CALLS + 1
    )
    if len(records) > MAX_CALLS:
        raise TooManyCalls(f"more than {MAX_CALLS} calls in this range: choose fewer days")
    facts = {r.id: CallFacts(r) for r in records}
    params: tuple[Any, ...] = (since, until) if direction is None else (since, until, direction)
    sql = _EVENTS.format(direction="" if direction is None else "AND c.direction = ?")
    for row in await store.query(sql, params):
        found = facts.get(row["call_id"])
        if found is None:
            continue  # created since the calls were read
        if row["kind"] == "voicemail":
            found.voicemail_left = True
            continue
        ms = orjson.loads(row["data"]).get("ms")
        if isinstance(ms, int | float):
            found.turn_ms.append(int(ms))
    return list(facts.values())


class Figures(BaseModel):
    """How a set of calls went."""

    model_config = ConfigDict(extra="forbid")

    calls: int = Field(description="calls created")
    answered: int = Field(description="calls that were answered")
    outcomes: int = Field(description="calls whose model reported an outcome")
    succeeded: int = Field(description="calls whose reported outcome was a success")
    success_rate: float | None = Field(
        description="succeeded / outcomes (calls without a reported outcome are not "
        "counted); null without any outcome"
    )
    endings: dict[str, int] = Field(description="calls per ending (call/endings.py)")
    cost_usd: float = Field(description="their cost at the configured prices, known parts")
    unpriced_calls: int = Field(description="calls with a part no price is known for")
    turn_ms: Percentiles | None = Field(
        description="turn latency (callee stops speaking → first model audio), ms, "
        "over every turn of these calls; null without any"
    )


class DayFigures(Figures):
    date: dt.date


class EndingLabel(BaseModel):
    key: str
    label: str


class Overview(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    first: dt.date = Field(alias="from")
    last: dt.date = Field(alias="to")
    tz: str
    direction: Direction
    endings: list[EndingLabel] = Field(description="every ending, in display order")
    totals: Figures
    days: list[DayFigures]


def figures(calls: Iterable[CallFacts], settings: Settings) -> dict[str, Any]:
    counts = dict.fromkeys((e.value for e in Ending), 0)
    total = answered = outcomes = succeeded = unpriced = 0
    cost_usd = 0.0
    turns: list[int] = []
    for facts in calls:
        record = facts.record
        total += 1
        answered += record.answered_at is not None
        if record.outcome is not None:
            outcomes += 1
            succeeded += record.outcome.success
        counts[facts.ending.value] += 1
        cost = call_cost(record, settings)
        unpriced += cost.total_usd is None
        cost_usd += spent_usd(cost)
        turns.extend(facts.turn_ms)
    return {
        "calls": total,
        "answered": answered,
        "outcomes": outcomes,
        "succeeded": succeeded,
        "success_rate": round(succeeded / outcomes, 4) if outcomes else None,
        "endings": counts,
        "cost_usd": round(cost_usd, 6),
        "unpriced_calls": unpriced,
        "turn_ms": Percentiles.of(turns),
    }


def summarise(calls: list[CallFacts], period: Period, settings: Settings) -> Overview:
    by_day: dict[dt.date, list[CallFacts]] = defaultdict(list)
    for facts in calls:
        by_day[period.day_of(facts.record.created_at)].append(facts)
    return Overview(
        first=period.first,
        last=period.last,
        tz=period.tz,
        direction=period.direction,
        endings=[EndingLabel(key=e.value, label=LABELS[e]) for e in Ending],
        totals=Figures(**figures(calls, settings)),
        days=[
            DayFigures(date=day, **figures(by_day.get(day, []), settings)) for day in period.days()
        ],
    )


async def overview(store: Store, period: Period, settings: Settings) -> Overview:
    return summarise(await load_calls(store, period), period, settings)
