"""A call asked for later (`at`), or for when calling hours allow it (`whenAllowed`):
the request checked, then stored as a schedule (store/schedules.py) for the scheduler
(call/scheduler.py) to place. Everything that can be refused is refused here, before
anything is stored (docs/business.md §Retries and scheduled calls)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from voicecall_rt.call.admission import PlaceError, check_outbound, check_schema
from voicecall_rt.call.guards import check_blocked, check_hours, check_number
from voicecall_rt.config import Settings
from voicecall_rt.config_business import time_zone
from voicecall_rt.store.base import Store
from voicecall_rt.store.schedules import Schedule, create_schedule, new_schedule_id

# A time a moment ago is what the caller meant by "now" (a clock a little behind, the
# request's own transit); further back is a mistake.
PAST_GRACE: Final = timedelta(seconds=5)
FURTHEST_AHEAD: Final = timedelta(days=366)


@dataclass(frozen=True, slots=True)
class CallRequest:
    """What the API, the CLI and MCP ask for, whatever the time."""

    to: str
    task: str
    system_prompt: str | None = None
    notify_session_key: str | None = None
    outcome_schema: dict[str, Any] | None = None
    at: str | None = None  # ISO 8601
    time_zone: str | None = None  # for an `at` without an offset
    when_allowed: bool = False


def parse_at(at: str, zone: str | None, now: datetime) -> datetime:
    """`at` (ISO 8601; with an offset or Z, or naive with `zone`, an IANA name) as an
    aware UTC time between now (less PAST_GRACE) and FURTHEST_AHEAD; PlaceError otherwise."""
    tz = None
    if zone is not None:
        try:
            tz = ZoneInfo(time_zone(zone))
        except ValueError as exc:
            raise PlaceError("invalid-time-zone", f"timeZone: {exc}") from None
    try:
        when = datetime.fromisoformat(at.strip())
    except ValueError:
        raise PlaceError(
            "invalid-time",
            f"at: {at[:40]!r} is not an ISO 8601 time such as '2026-03-02T09:30:00+01:00'",
        ) from None
    if when.tzinfo is None:
        if tz is None:
            raise PlaceError(
                "invalid-time",
                f"at: {at[:40]!r} has no offset: add one (Z, +01:00) or give timeZone",
            )
        when = when.replace(tzinfo=tz)
        # A wall time skipped by a clock change (02:30 on a spring-forward night) does not
        # come back unchanged from UTC.
        if when.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != when.replace(tzinfo=None):
            raise PlaceError("invalid-time", f"at: {at[:40]} does not exist in {zone}")
    when = when.astimezone(UTC)
    if when < now - PAST_GRACE:
        raise PlaceError(
            "invalid-time", f"at: {when:%Y-%m-%d %H:%M:%S} UTC is in the past (now {now:%H:%M:%S})"
        )
    if when > now + FURTHEST_AHEAD:
        raise PlaceError(
            "invalid-time", f"at: {when:%Y-%m-%d} is more than {FURTHEST_AHEAD.days} days ahead"
        )
    return max(when, now)


async def check_request(
    settings: Settings, store: Store, request: CallRequest, due: datetime
) -> tuple[str, datetime]:
    """The number in E.164 and when the call may ring (`due`, or the next allowed time for
    `whenAllowed`); PlaceError for what would refuse the call. The concurrency limit and
    the day's spend are the placing moment's business, not this one's."""
    to = check_outbound(settings, request.to, request.task, request.system_prompt, active=0)
    check_schema(request.outcome_schema)
    check_number(to)
    await check_blocked(settings, store, to)
    try:
        check_hours(settings, to, due)
    except PlaceError as exc:
        if not request.when_allowed or exc.next_allowed is None:
            raise
        due = exc.next_allowed
    return to, due


def ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


async def store_schedule(
    settings: Settings,
    store: Store,
    request: CallRequest,
    *,
    to: str,
    due: datetime,
    now: datetime,
    first_call_id: str | None = None,
    schedule_id: str | None = None,
) -> Schedule:
    """A new schedule for `request` (checked): pending, due at `due`; or, with
    `first_call_id` (an immediate call with retries), waiting on that first attempt."""
    retry = settings.calls.retry
    schedule = Schedule(
        id=schedule_id or new_schedule_id(),
        to_number=to,
        task=request.task,
        system_prompt=request.system_prompt,
        notify_session_key=request.notify_session_key,
        outcome_schema=request.outcome_schema,
        created_at=ms(now),
        due_at=ms(due),
        state="pending" if first_call_id is None else "waiting",
        attempts_made=0 if first_call_id is None else 1,
        max_attempts=retry.attempts,
        retry=retry.model_dump(mode="json", by_alias=True),
        when_allowed=request.when_allowed,
        first_call_id=first_call_id,
        last_call_id=first_call_id,
        updated_at=ms(now),
    )
    await create_schedule(store, schedule)
    return schedule
