"""What no outbound call may do, checked before anything is stored or dialled
(docs/business.md §Guards): ring an emergency service or a premium-rate line, ring a number
on the blocklist or one that asked not to be called again, ring outside the callee's calling
hours, or begin once the day's calls have cost `limits.dailySpendUsd`. Each refusal is a
PlaceError with a stable code; the scheduler checks the same before storing a schedule.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import PhoneNumberType, shortnumberinfo

from voicecall_rt.call import calling_hours
from voicecall_rt.call.admission import PlaceError
from voicecall_rt.config import Settings
from voicecall_rt.pricing import CallCost, call_cost, format_usd
from voicecall_rt.store.base import Store
from voicecall_rt.store.blocklist import DO_NOT_CALL, find_blocked
from voicecall_rt.store.errors import StoreError

# Emergency short codes per country calling code, matched exactly against the national part
# of the number ("+1911", "+44999", "+33112"): a backstop to libphonenumber's short-number
# data (`is_emergency_number`), which covers most regions. Source: the national emergency
# numbers listed by the ITU (Operational Bulletin, "List of emergency numbers") as
# summarised on Wikipedia's "List of emergency telephone numbers", late 2026. 112 and 911
# reach emergency services from any mobile phone (3GPP TS 22.101 §10), so every country
# refuses them.
ANYWHERE: Final = frozenset({"112", "911"})
EMERGENCY_SHORT_CODES: Final[Mapping[int, frozenset[str]]] = {
    1: frozenset({"911", "933"}),  # US, Canada and NANP; 933 is the 911 address test line
    7: frozenset({"01", "02", "03", "101", "102", "103"}),  # Russia, Kazakhstan
    33: frozenset({"15", "17", "18", "114", "115", "119", "191", "196", "197"}),  # France
    34: frozenset({"061", "062", "080", "085", "088", "091", "092"}),  # Spain
    39: frozenset({"113", "115", "118"}),  # Italy
    44: frozenset({"999"}),  # United Kingdom
    49: frozenset({"110"}),  # Germany
    52: frozenset({"060", "065", "066", "080"}),  # Mexico
    55: frozenset({"190", "192", "193"}),  # Brazil
    61: frozenset({"000", "106"}),  # Australia
    64: frozenset({"111"}),  # New Zealand
    81: frozenset({"110", "118", "119"}),  # Japan
    82: frozenset({"119", "122"}),  # South Korea
    86: frozenset({"110", "119", "120", "122"}),  # China
    91: frozenset({"100", "101", "102", "108"}),  # India
    353: frozenset({"999"}),  # Ireland
}

# Refused: premium rate, the numbers that bill the caller for a service (libphonenumber
# counts the UK's 084/087 service-charge numbers among them). Shared-cost numbers (France
# 081x, Belgium 078) are ordinary businesses' lines at a modest surcharge and stay
# callable; a business that wants one refused lists it in calls.blockedNumbers.
REFUSED_TYPES: Final = frozenset({PhoneNumberType.PREMIUM_RATE})


# The most calls a day's spend reads, newest first: past that many in one day, the oldest
# go uncounted (the overview reads at most 20,000 over a whole range).
DAY_CALLS_READ: Final = 100_000


def check_number(to: str) -> None:
    """PlaceError if `to` (E.164) is an emergency or premium-rate number."""
    try:
        parsed = phonenumbers.parse(to)
    except phonenumbers.NumberParseException:
        return  # not a number libphonenumber reads: nothing it could say it is
    national = phonenumbers.national_significant_number(parsed)
    country = parsed.country_code or 0
    forms = {national, national.lstrip("0") or "0"}  # "+440999": a trunk 0 typed in
    codes = ANYWHERE | EMERGENCY_SHORT_CODES.get(country, frozenset())
    regions = phonenumbers.region_codes_for_country_code(country)
    if forms & codes or any(
        shortnumberinfo.is_emergency_number(form, region) for form in forms for region in regions
    ):
        raise PlaceError(
            "emergency-number",
            f"{to} is an emergency number ({national}): calls to emergency services are"
            " never placed",
        )
    if phonenumbers.number_type(parsed) in REFUSED_TYPES:
        raise PlaceError(
            "premium-number",
            f"{to} is a premium-rate number: such numbers bill the caller for a service, and"
            " calls to them are never placed",
        )


async def check_blocked(settings: Settings, store: Store, to: str) -> None:
    """PlaceError if `to` is on `calls.blockedNumbers` or asked not to be called again."""
    if to in settings.calls.blocked_numbers:
        raise PlaceError(
            "blocked-number", f"{to} is on the blocklist (calls.blockedNumbers): no call placed"
        )
    blocked = await find_blocked(store, to)
    if blocked is None:
        return
    when = datetime.fromtimestamp(blocked.created_at / 1000, UTC)
    if blocked.source == DO_NOT_CALL:
        said = f" on call {blocked.call_id}" if blocked.call_id else ""
        why = f"asked not to be called again{said} ({when:%Y-%m-%d %H:%M} UTC)"
    else:
        why = f"is blocked ({blocked.source}, {when:%Y-%m-%d %H:%M} UTC)"
    raise PlaceError(
        "blocked-number",
        f"{to} {why}: no call placed (`voicecall-rt calls unblock {to}` lifts it)",
    )


def check_hours(settings: Settings, to: str, now: datetime) -> None:
    """PlaceError `outside-calling-hours` (with `next_allowed`) if `calls.hours` does not
    allow a call to `to` at `now`."""
    hours = settings.calls.hours
    if calling_hours.allowed(to, hours, now):
        return
    shown = f"{to[:5]}…"
    try:
        when = calling_hours.next_allowed(to, hours, now)
    except calling_hours.NeverAllowed as exc:
        raise PlaceError("outside-calling-hours", str(exc)) from None
    raise PlaceError(
        "outside-calling-hours",
        f"outside calling hours for {shown}: next allowed"
        f" {calling_hours.describe(to, hours, when)}; add --when-allowed to schedule it then",
        next_allowed=when,
    )


def spent_usd(cost: CallCost) -> float:
    """What a call is known to have cost: a part whose model has no price counts nothing
    (config checks warn about those), the rest in full."""
    if cost.total_usd is not None:
        return cost.total_usd
    return (cost.model_usd or 0.0) + (cost.transcription_usd or 0.0) + cost.carrier_usd


def day_of(now: datetime, time_zone: str) -> tuple[datetime, datetime]:
    """The day `now` falls in, in `time_zone`: its first moment and the next day's."""
    zone = ZoneInfo(time_zone)
    today = now.astimezone(zone).date()
    tomorrow = today + timedelta(days=1)
    return (
        datetime(today.year, today.month, today.day, tzinfo=zone),
        datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=zone),
    )


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


async def check_daily_spend(
    settings: Settings,
    store: Store,
    now: datetime,
    live_usage: Mapping[str, dict[str, Any]] | None = None,
) -> None:
    """PlaceError `daily-spend-limit` once the calls created today (in `limits.timeZone`)
    have cost `limits.dailySpendUsd`. A live call's stored usage is written when it ends:
    `live_usage` (call id → usage so far) gives this instance's live calls' own."""
    limits = settings.limits
    if limits.daily_spend_usd is None:
        return
    day, next_day = day_of(now, limits.time_zone)
    calls = await store.calls_created_between(_ms(day), _ms(next_day), limit=DAY_CALLS_READ)
    live_usage = live_usage or {}
    spent = 0.0
    for record in calls:
        if record.id in live_usage:
            record = record.model_copy(update={"usage": live_usage[record.id]})
        spent += spent_usd(call_cost(record, settings))
    if spent >= limits.daily_spend_usd:
        raise PlaceError(
            "daily-spend-limit",
            f"today's calls have cost {format_usd(spent)}, reaching limits.dailySpendUsd"
            f" ({format_usd(limits.daily_spend_usd)} a day from {day:%H:%M} {limits.time_zone})"
            ": no new call until the day ends there",
        )


async def check_guards(
    settings: Settings,
    store: Store,
    to: str,
    *,
    now: datetime,
    live_usage: Mapping[str, dict[str, Any]] | None = None,
) -> None:
    """Every guard on an outbound call to `to` (E.164) placed at `now` (aware); PlaceError
    with the first refusal's code. Nothing is stored or dialled here."""
    check_number(to)
    try:
        await check_blocked(settings, store, to)
        check_hours(settings, to, now)
        await check_daily_spend(settings, store, now, live_usage)
    except StoreError as exc:  # what is not known cannot be let through
        raise PlaceError(
            "store", f"the call database cannot be read for the guards: {exc}"
        ) from None
