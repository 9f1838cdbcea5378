"""Calling hours in the callee's local time: zones from the number, the strictest of
several, the next allowed moment (checked minute by minute against `allowed`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from voicecall_rt.call.calling_hours import (
    NeverAllowed,
    allowed,
    callee_time_zones,
    describe,
    next_allowed,
)
from voicecall_rt.config import Settings
from voicecall_rt.config_business import HoursSettings

PARIS = "+33142000000"
SAN_FRANCISCO = "+14155550100"
ALASKA = "+19075550100"  # Anchorage and Adak, an hour apart
INTERNATIONAL_FREEPHONE = "+80012345678"  # no zone of its own


def hours_of(**keys: object) -> HoursSettings:
    return HoursSettings.model_validate(keys)


WEEKDAYS_9_TO_8 = hours_of(start="09:00", end="20:00", days=["mon", "tue", "wed", "thu", "fri"])


def at(text: str, zone: str = "UTC") -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


def test_zones_come_from_the_number() -> None:
    assert [str(z) for z in callee_time_zones(PARIS, "UTC")] == ["Europe/Paris"]
    assert [str(z) for z in callee_time_zones(SAN_FRANCISCO, "UTC")] == ["America/Los_Angeles"]
    assert {str(z) for z in callee_time_zones(ALASKA, "UTC")} == {
        "America/Anchorage",
        "America/Adak",
    }
    # A number with no zone of its own falls back to the configured one.
    assert [str(z) for z in callee_time_zones(INTERNATIONAL_FREEPHONE, "Asia/Tokyo")] == [
        "Asia/Tokyo"
    ]


def test_unrestricted_hours_allow_any_time() -> None:
    hours = HoursSettings()
    moment = at("2026-12-06 03:00")  # a Sunday night
    assert not hours.restricted
    assert allowed(PARIS, hours, moment)
    assert next_allowed(PARIS, hours, moment) == moment


def test_inside_the_window_is_now() -> None:
    moment = at("2026-12-07 10:30", "Europe/Paris")  # a Monday morning in Paris
    assert next_allowed(PARIS, WEEKDAYS_9_TO_8, moment) == moment


def test_the_window_is_the_callees_not_ours() -> None:
    # 17:00 UTC on a Monday is 18:00 in Paris (allowed) and 09:00 in San Francisco (allowed);
    # 04:00 UTC is 05:00 in Paris and 20:00 the evening before in San Francisco (neither).
    assert allowed(PARIS, WEEKDAYS_9_TO_8, at("2026-12-07 17:00"))
    assert allowed(SAN_FRANCISCO, WEEKDAYS_9_TO_8, at("2026-12-07 17:00"))
    assert not allowed(SAN_FRANCISCO, WEEKDAYS_9_TO_8, at("2026-12-08 04:00"))
    assert next_allowed(SAN_FRANCISCO, WEEKDAYS_9_TO_8, at("2026-12-08 04:00")) == at(
        "2026-12-08 09:00", "America/Los_Angeles"
    )


def test_the_end_is_exclusive_and_weekends_skip_to_monday() -> None:
    friday_close = at("2026-12-11 20:00", "Europe/Paris")
    assert not allowed(PARIS, WEEKDAYS_9_TO_8, friday_close)
    assert allowed(PARIS, WEEKDAYS_9_TO_8, friday_close - timedelta(minutes=1))
    assert next_allowed(PARIS, WEEKDAYS_9_TO_8, friday_close) == at(
        "2026-12-14 09:00", "Europe/Paris"
    )


def test_a_clock_change_moves_the_opening_in_utc() -> None:
    # Paris springs forward on Sunday 2027-03-28: Friday opens at 08:00 UTC, Monday at 07:00.
    assert next_allowed(PARIS, WEEKDAYS_9_TO_8, at("2027-03-26 07:59")) == at("2027-03-26 08:00")
    assert next_allowed(PARIS, WEEKDAYS_9_TO_8, at("2027-03-27 12:00")) == at("2027-03-29 07:00")


def test_a_number_spanning_zones_waits_for_the_strictest() -> None:
    # 09:00 in Anchorage is 08:00 in Adak: the call waits for Adak's 09:00.
    moment = at("2026-12-07 08:30", "America/Anchorage")
    assert not allowed(ALASKA, WEEKDAYS_9_TO_8, moment)
    assert next_allowed(ALASKA, WEEKDAYS_9_TO_8, moment) == at("2026-12-07 09:00", "America/Adak")
    # ...and stops at Anchorage's 20:00, while it is only 19:00 in Adak.
    assert not allowed(ALASKA, WEEKDAYS_9_TO_8, at("2026-12-07 20:00", "America/Anchorage"))


def test_zones_that_never_overlap_are_said_so() -> None:
    # A US toll-free number may ring anywhere from Guam to American Samoa: no hour of
    # 09:00-10:00 is daytime in all of them.
    narrow = hours_of(start="09:00", end="10:00")
    with pytest.raises(NeverAllowed, match="share no allowed hour"):
        next_allowed("+18005550100", narrow, at("2026-12-07 12:00"))


@pytest.mark.parametrize("number", [PARIS, SAN_FRANCISCO, ALASKA])
@pytest.mark.parametrize(
    "start", ["2026-12-04 18:00", "2026-12-05 00:00", "2026-12-07 08:59", "2027-03-27 23:30"]
)
def test_next_allowed_is_the_first_allowed_minute(number: str, start: str) -> None:
    # Brute force over minutes: the answer is allowed and no minute before it is.
    hours = hours_of(start="09:30", end="17:00", days=["mon", "wed", "fri"])
    moment = at(start)
    found = next_allowed(number, hours, moment)
    assert allowed(number, hours, found)
    probe = moment
    while probe < found:
        assert not allowed(number, hours, probe), probe
        probe += timedelta(minutes=1)


def test_days_alone_restrict_whole_days() -> None:
    weekends = hours_of(days=["sat", "sun"])
    assert weekends.restricted
    assert next_allowed(PARIS, weekends, at("2026-12-09 12:00")) == at(
        "2026-12-12 00:00", "Europe/Paris"
    )


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_allowed(PARIS, WEEKDAYS_9_TO_8, datetime(2026, 12, 7, 12, 0))


def test_describe_gives_the_callees_time_and_utc() -> None:
    when = at("2026-12-08 09:00", "America/Los_Angeles")
    assert describe(SAN_FRANCISCO, WEEKDAYS_9_TO_8, when) == (
        "Tue 2026-12-08 09:00 America/Los_Angeles (17:00 UTC)"
    )
    late = at("2026-12-08 19:00", "America/Los_Angeles")
    assert describe(SAN_FRANCISCO, WEEKDAYS_9_TO_8, late).endswith("(03:00 Wed UTC)")


@pytest.mark.parametrize(
    ("hours", "key", "says"),
    [
        ({"start": "21:00", "end": "20:00"}, "calls.hours", "must be before end"),
        ({"start": "09:00"}, "calls.hours", "both start and end"),
        ({"start": "9am", "end": "20:00"}, "calls.hours.start", "HH:MM"),
        ({"start": "09:00", "end": "24:00"}, "calls.hours.end", "HH:MM"),
        ({"days": []}, "calls.hours.days", "at least one day"),
        ({"days": ["mon", "mon"]}, "calls.hours.days", "repeat"),
        ({"days": ["monday"]}, "calls.hours.days", "mon"),
        ({"fallbackTimeZone": "Mars/Olympus"}, "calls.hours.fallbackTimeZone", "unknown time zone"),
    ],
)
def test_bad_hours_are_refused_with_the_key(hours: dict[str, object], key: str, says: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings.model_validate({"calls": {"hours": hours}})
    text = str(caught.value)
    assert key in text
    assert says in text


def test_good_hours_load() -> None:
    settings = Settings.model_validate(
        {"calls": {"hours": {"start": "08:30", "end": "18:00", "days": ["sat"]}}}
    )
    assert settings.calls.hours.start is not None
    assert f"{settings.calls.hours.start:%H:%M}" == "08:30"
    assert settings.calls.hours.days == ["sat"]
