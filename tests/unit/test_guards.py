"""The guards on an outbound call (call/guards.py): emergency and premium-rate numbers per
country, the blocklist (configured and recorded, on both stores), calling hours with the
next allowed time, the daily spend (on both stores), each with its code and its sentence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.helpers.store_backends import StoreBackend
from voicecall_rt.call.admission import PlaceError
from voicecall_rt.call.guards import check_guards, check_number
from voicecall_rt.call.records import CallRecord, CallStatus
from voicecall_rt.config import Settings
from voicecall_rt.store import Store
from voicecall_rt.store.blocklist import (
    DO_NOT_CALL,
    find_blocked,
    list_blocked,
    record_blocked,
    unblock,
)

SAN_FRANCISCO = "+14155550100"
PARIS = "+33142000000"
# A Monday, 15:00 UTC: 07:00 in San Francisco, 16:00 in Paris.
MONDAY_3PM_UTC = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)


def settings_of(**sections: Any) -> Settings:
    return Settings.model_validate(sections)


def refusal(to: str) -> PlaceError:
    with pytest.raises(PlaceError) as caught:
        check_number(to)
    return caught.value


@pytest.mark.parametrize(
    "number",
    [
        "+1911",  # US, Canada
        "+1112",
        "+44999",  # UK
        "+44112",
        "+440999",  # with the trunk 0 typed in
        "+33112",  # France
        "+3315",  # SAMU
        "+3317",  # police
        "+3318",  # fire
        "+49110",  # Germany
        "+61000",  # Australia
        "+81110",  # Japan
        "+81119",
        "+91100",  # India
        "+91101",
        "+91102",
        "+91108",
        "+86119",  # China
        "+39113",  # Italy
        "+34112",  # Spain
    ],
)
def test_emergency_numbers_are_refused(number: str) -> None:
    error = refusal(number)
    assert error.code == "emergency-number"
    assert str(error).startswith(f"{number} is an emergency number")
    assert "never placed" in str(error)


@pytest.mark.parametrize(
    "number",
    [
        "+14155550100",  # San Francisco
        "+33153123456",  # Paris, 01 53: begins with France's 15, and is no emergency
        "+33112345678",  # Paris, 01 12: begins with 112
        "+390112345678",  # Turin, 011
        "+442079460000",  # London
        "+4915112345678",  # a German mobile, begins with 15
        "+18005551234",  # US toll-free: free for the caller
        "+33810123456",  # France 0810, shared cost: callable (docs/business.md §Guards)
    ],
)
def test_ordinary_numbers_pass(number: str) -> None:
    check_number(number)


@pytest.mark.parametrize(
    "number",
    [
        "+19005551234",  # US 1-900
        "+449090000000",  # UK 0909
        "+33899123456",  # France 0899
        "+611900123456",  # Australia 1900
        "+448451234567",  # UK 0845: a service-charge number, premium in libphonenumber
    ],
)
def test_premium_rate_numbers_are_refused(number: str) -> None:
    error = refusal(number)
    assert error.code == "premium-number", str(error)
    assert str(error) == (
        f"{number} is a premium-rate number: such numbers bill the caller for a service,"
        " and calls to them are never placed"
    )


async def test_configured_blocklist(store: Store) -> None:
    settings = settings_of(calls={"blockedNumbers": [PARIS]})
    with pytest.raises(PlaceError) as caught:
        await check_guards(settings, store, PARIS, now=MONDAY_3PM_UTC)
    assert caught.value.code == "blocked-number"
    assert str(caught.value) == (
        f"{PARIS} is on the blocklist (calls.blockedNumbers): no call placed"
    )
    await check_guards(settings, store, SAN_FRANCISCO, now=MONDAY_3PM_UTC)


async def test_a_number_that_asked_not_to_be_called(store: Store) -> None:
    settings = Settings()
    await record_blocked(
        store, PARIS, source=DO_NOT_CALL, reason="asked us to stop calling", call_id="call_1"
    )
    with pytest.raises(PlaceError) as caught:
        await check_guards(settings, store, PARIS, now=MONDAY_3PM_UTC)
    message = str(caught.value)
    assert caught.value.code == "blocked-number"
    assert message.startswith(f"{PARIS} asked not to be called again on call call_1 (")
    assert message.endswith(f"no call placed (`voicecall-rt calls unblock {PARIS}` lifts it)")

    # Asked again on a later call: one row, the latest call.
    await record_blocked(store, PARIS, source=DO_NOT_CALL, reason="again", call_id="call_2")
    listed = await list_blocked(store)
    assert [(b.number, b.source, b.reason, b.call_id) for b in listed] == [
        (PARIS, DO_NOT_CALL, "again", "call_2")
    ]

    assert await unblock(store, PARIS) is True
    assert await unblock(store, PARIS) is False
    assert await find_blocked(store, PARIS) is None
    await check_guards(settings, store, PARIS, now=MONDAY_3PM_UTC)


async def test_a_number_recorded_by_one_instance_is_refused_by_another(
    store: Store, store_backend: StoreBackend
) -> None:
    # Two stores on one database: two instances on one PostgreSQL (or two processes on one
    # SQLite file, as `calls unblock` is beside a running server).
    other = await store_backend.open()
    try:
        await record_blocked(other, PARIS, source=DO_NOT_CALL, reason="stop", call_id="call_9")
        with pytest.raises(PlaceError) as caught:
            await check_guards(Settings(), store, PARIS, now=MONDAY_3PM_UTC)
        assert caught.value.code == "blocked-number"
        assert await unblock(store, PARIS) is True
        assert await find_blocked(other, PARIS) is None
    finally:
        await other.close()


async def test_outside_calling_hours_gives_the_next_allowed_time(store: Store) -> None:
    settings = settings_of(
        calls={"hours": {"start": "09:00", "end": "20:00", "days": ["mon", "tue", "wed"]}}
    )
    with pytest.raises(PlaceError) as caught:
        await check_guards(settings, store, SAN_FRANCISCO, now=MONDAY_3PM_UTC)
    error = caught.value
    assert error.code == "outside-calling-hours"
    assert error.next_allowed == datetime(2026, 12, 7, 17, 0, tzinfo=UTC)
    assert str(error) == (
        "outside calling hours for +1415…: next allowed Mon 2026-12-07 09:00"
        " America/Los_Angeles (17:00 UTC); add --when-allowed to schedule it then"
    )
    # 16:00 in Paris: open.
    await check_guards(settings, store, PARIS, now=MONDAY_3PM_UTC)


async def test_hours_that_never_open_for_the_number(store: Store) -> None:
    # A US toll-free number may ring anywhere from Guam to American Samoa: a one-hour
    # window is never open in all of them at once.
    settings = settings_of(calls={"hours": {"start": "12:00", "end": "13:00"}})
    with pytest.raises(PlaceError) as caught:
        await check_guards(settings, store, "+18005551234", now=MONDAY_3PM_UTC)
    assert caught.value.code == "outside-calling-hours"
    assert caught.value.next_allowed is None
    assert "share no allowed hour" in str(caught.value)


def spent_call(created: datetime, *, minutes: int, usage: dict[str, Any] | None) -> CallRecord:
    start = int(created.timestamp() * 1000)
    return CallRecord(
        id=f"call_{start:016x}"[:21],
        direction="outbound",
        from_number="+14155550000",
        to_number=SAN_FRANCISCO,
        task="t",
        status=CallStatus.COMPLETED,
        created_at=start,
        answered_at=start + 1000,
        ended_at=start + 1000 + minutes * 60_000,
        usage=usage,
        carrier="twilio",
    )


# 1M uncached text tokens in at gpt-realtime-2.1's list price: $4.00.
FOUR_DOLLARS = {"input_tokens": 1_000_000, "input_text_tokens": 1_000_000, "output_tokens": 0}


async def test_daily_spend_counts_the_calls_of_today_in_the_limits_zone(store: Store) -> None:
    # The day in Paris began at 23:00 UTC the evening before.
    settings = settings_of(limits={"dailySpendUsd": 5.0, "timeZone": "Europe/Paris"})
    now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    yesterday = spent_call(now - timedelta(hours=10, minutes=30), minutes=1, usage=FOUR_DOLLARS)
    today = spent_call(now - timedelta(hours=9, minutes=30), minutes=2, usage=FOUR_DOLLARS)
    for record in (yesterday, today):
        store.insert_call(record)
    # Today: $4.00 of model and 2 Twilio minutes ($0.0368): under $5.
    await check_guards(settings, store, SAN_FRANCISCO, now=now)

    # This instance's live call: its usage so far counts, though none is stored yet.
    live = spent_call(now - timedelta(minutes=5), minutes=1, usage=None)
    store.insert_call(live)
    with pytest.raises(PlaceError) as caught:
        await check_guards(
            settings, store, SAN_FRANCISCO, now=now, live_usage={live.id: FOUR_DOLLARS}
        )
    assert caught.value.code == "daily-spend-limit"
    assert str(caught.value) == (
        "today's calls have cost $8.06, reaching limits.dailySpendUsd ($5.00 a day from"
        " 00:00 Europe/Paris): no new call until the day ends there"
    )
    # The day after, in Paris: the count starts again.
    tomorrow = datetime(2026, 12, 7, 23, 0, tzinfo=UTC)
    await check_guards(settings, store, SAN_FRANCISCO, now=tomorrow)


async def test_the_checks_come_in_order(store: Store) -> None:
    # An emergency number is refused as such, whatever else would refuse it.
    settings = settings_of(calls={"blockedNumbers": ["+1911"]}, limits={"dailySpendUsd": 0.01})
    store.insert_call(spent_call(MONDAY_3PM_UTC, minutes=1, usage=None))
    with pytest.raises(PlaceError) as caught:
        await check_guards(settings, store, "+1911", now=MONDAY_3PM_UTC)
    assert caught.value.code == "emergency-number"
    with pytest.raises(PlaceError) as caught:
        await check_guards(settings, store, SAN_FRANCISCO, now=MONDAY_3PM_UTC)
    assert caught.value.code == "daily-spend-limit"


async def test_a_store_that_cannot_be_read_refuses_rather_than_lets_through(
    store_backend: StoreBackend,
) -> None:
    closed = await store_backend.open()
    await closed.close()
    with pytest.raises(PlaceError) as caught:
        await check_guards(Settings(), closed, PARIS, now=MONDAY_3PM_UTC)
    assert caught.value.code == "store"
    assert str(caught.value) == "the call database cannot be read for the guards: store is closed"
