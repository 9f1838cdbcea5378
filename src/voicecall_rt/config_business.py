"""Settings a business sets around its calls: transfer targets, retries, calling hours,
the blocklist and spend limits (docs/business.md). Each is validated here, with the key's
name in every error, before anything is dialled or stored."""

from __future__ import annotations

import re
from datetime import time
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, field_validator, model_validator

from voicecall_rt.config_section import Section as _Section
from voicecall_rt.phone import normalize_e164

E164 = Annotated[str, AfterValidator(normalize_e164)]

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# What ends an attempt in a way worth another try (`calls.retry.on`).
RetryOn = Literal["busy", "no-answer", "failed", "voicemail"]
_RETRY_ON_DEFAULT: tuple[RetryOn, ...] = ("busy", "no-answer", "failed")


def time_zone(value: str) -> str:
    """An IANA time zone name zoneinfo knows ("Europe/Paris"); ValueError otherwise."""
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_+\-/]{1,64}", value):
        raise ValueError("must be an IANA time zone such as 'America/New_York'")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r}: use an IANA name such as 'America/New_York'"
        ) from None
    return value


TimeZoneName = Annotated[str, AfterValidator(time_zone)]


def clock_time(value: object) -> time:
    """'09:00' (24-hour HH:MM) → time; ValueError otherwise."""
    if isinstance(value, time):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", value):
        raise ValueError("must be a 24-hour time 'HH:MM' such as '09:00'")
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


class TransferTarget(_Section):
    # What the model sees and names ("front desk"); the number it never sees.
    label: str = Field(min_length=1, max_length=60, pattern=r"^[^\x00-\x1f\x7f]+$")
    number: E164


class TransferSettings(_Section):
    """Where `transfer_call` may connect the other side; no targets: no transfer tool."""

    targets: list[TransferTarget] = Field(default_factory=list, max_length=20)
    # Show the other party's number to the person the call is transferred to (where the
    # carrier allows it; else, and when false, our fromNumber is shown).
    pass_caller_id: bool = True

    @field_validator("targets")
    @classmethod
    def _distinct_labels(cls, value: list[TransferTarget]) -> list[TransferTarget]:
        labels = [t.label.strip().lower() for t in value]
        repeated = sorted({label for label in labels if labels.count(label) > 1})
        if repeated:
            raise ValueError(f"labels must differ; repeated: {', '.join(repeated)}")
        return value


class RetrySettings(_Section):
    """Follow-up attempts of an outbound call that did not get through."""

    # Attempts in all, the first included: 1 places no follow-up.
    attempts: int = Field(default=1, ge=1, le=10)
    # Wait before the second attempt; each later wait is `backoffMultiplier` times longer.
    backoff_seconds: float = Field(default=300, ge=10, le=7 * 86400)
    backoff_multiplier: float = Field(default=2.0, ge=1, le=10)
    on: list[RetryOn] = Field(default_factory=lambda: list(_RETRY_ON_DEFAULT))

    @field_validator("on")
    @classmethod
    def _distinct(cls, value: list[RetryOn]) -> list[RetryOn]:
        if len(set(value)) != len(value):
            raise ValueError("must not repeat a reason")
        return value


class HoursSettings(_Section):
    """When outbound calls may ring, in the callee's local time (their number's zone)."""

    # Unset: any time.
    start: Annotated[time, AfterValidator(clock_time)] | None = None
    end: Annotated[time, AfterValidator(clock_time)] | None = None
    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS))
    # For a number whose zone cannot be told from it (a non-geographic number).
    fallback_time_zone: TimeZoneName = "UTC"

    @field_validator("start", "end", mode="before")
    @classmethod
    def _clock(cls, value: object) -> object:
        return None if value is None else clock_time(value)

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[Weekday]) -> list[Weekday]:
        if not value:
            raise ValueError("must name at least one day (mon … sun)")
        if len(set(value)) != len(value):
            raise ValueError("must not repeat a day")
        return value

    @model_validator(mode="after")
    def _range(self) -> HoursSettings:
        if (self.start is None) != (self.end is None):
            raise ValueError("calls.hours needs both start and end, or neither")
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise ValueError(
                f"calls.hours: start ({self.start:%H:%M}) must be before end"
                f" ({self.end:%H:%M}) on the same day"
            )
        return self

    @property
    def restricted(self) -> bool:
        return self.start is not None or len(self.days) < len(WEEKDAYS)


class LimitsSettings(_Section):
    """Spend guards, in USD of the cost estimate (README "Cost")."""

    # New calls are refused once the calls begun today have cost this much.
    daily_spend_usd: float | None = Field(default=None, gt=0, le=1_000_000)
    # A call whose running cost reaches this says goodbye and hangs up.
    per_call_spend_usd: float | None = Field(default=None, gt=0, le=10_000)
    # Where "today" begins and ends for dailySpendUsd.
    time_zone: TimeZoneName = "UTC"
