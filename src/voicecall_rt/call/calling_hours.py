"""Calling hours in the callee's local time (`calls.hours`, docs/business.md §Calling hours).

The callee's time zones come from their number (libphonenumber's data, through the
`phonenumbers` package). A number that spans several zones — a whole country's toll-free
number, a US area code split by a zone line — may ring only when the hours allow it in
every one of them: the strictest reading, so nobody is called at night because the number
could also be somewhere else.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as number_zones

from voicecall_rt.config_business import WEEKDAYS, HoursSettings

# Weekly windows repeat: a week and a day of candidate openings always hold the next one.
_SEARCH_DAYS = 8


class NeverAllowed(ValueError):
    """The hours never open at the same time in all of the number's zones."""


@functools.lru_cache(maxsize=4096)
def _zone_names(number: str) -> tuple[str, ...]:
    try:
        parsed = phonenumbers.parse(number)
    except phonenumbers.NumberParseException:
        return ()
    names = number_zones.time_zones_for_number(parsed)
    return tuple(name for name in names if name != number_zones.UNKNOWN_TIMEZONE)


def callee_time_zones(number: str, fallback: str) -> list[ZoneInfo]:
    """The zones the callee of `number` (E.164) may be in; `fallback` when it says none."""
    zones = []
    for name in _zone_names(number):
        try:
            zones.append(ZoneInfo(name))
        except (ZoneInfoNotFoundError, ValueError):
            continue  # a name libphonenumber knows and this tz database does not
    return zones or [ZoneInfo(fallback)]


def _open_in(zone: ZoneInfo, hours: HoursSettings, at: datetime) -> bool:
    local = at.astimezone(zone)
    if WEEKDAYS[local.weekday()] not in hours.days:
        return False
    if hours.start is None or hours.end is None:
        return True
    return hours.start <= local.time().replace(tzinfo=None) < hours.end


def allowed(number: str, hours: HoursSettings, at: datetime) -> bool:
    """Whether a call to `number` may ring at `at` (an aware datetime)."""
    if not hours.restricted:
        return True
    zones = callee_time_zones(number, hours.fallback_time_zone)
    return all(_open_in(zone, hours, at) for zone in zones)


def next_allowed(number: str, hours: HoursSettings, at: datetime) -> datetime:
    """`at` if a call to `number` may ring then, else the earliest moment after it when it
    may (aware, in UTC). NeverAllowed when the zones' windows never overlap.

    The allowed moments are an intersection of each zone's daily windows, so the first one
    after `at` is `at` itself or the opening of some zone's window: those are the only
    candidates tried.
    """
    if at.tzinfo is None:
        raise ValueError("next_allowed needs an aware datetime")
    if allowed(number, hours, at):
        return at
    zones = callee_time_zones(number, hours.fallback_time_zone)
    opening = hours.start.replace(tzinfo=None) if hours.start is not None else None
    candidates = []
    for zone in zones:
        day = at.astimezone(zone).date()
        for offset in range(_SEARCH_DAYS):
            date = day + timedelta(days=offset)
            local = datetime(date.year, date.month, date.day, tzinfo=zone)
            if opening is not None:
                local = local.replace(hour=opening.hour, minute=opening.minute)
            moment = local.astimezone(UTC)
            if moment > at:
                candidates.append(moment)
    for moment in sorted(candidates):
        if all(_open_in(zone, hours, moment) for zone in zones):
            return moment
    raise NeverAllowed(
        f"calls.hours never allow a call to {number[:4]}…: its time zones"
        f" ({', '.join(str(z) for z in zones)}) share no allowed hour"
    )


def describe(number: str, hours: HoursSettings, when: datetime) -> str:
    """`when` as the callee reads it, and in UTC: 'Mon 2026-12-07 09:00
    America/Los_Angeles (17:00 UTC)'."""
    zone = callee_time_zones(number, hours.fallback_time_zone)[0]
    local = when.astimezone(zone)
    utc = when.astimezone(UTC)
    day = "" if local.date() == utc.date() else f" {utc:%a}"
    return f"{local:%a %Y-%m-%d %H:%M} {zone} ({utc:%H:%M}{day} UTC)"
