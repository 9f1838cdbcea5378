"""The business settings (config_business.py): their defaults, and every bad value refused
with the key's name before anything runs."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from voicecall_rt.config import Settings


def test_defaults_change_nothing() -> None:
    s = Settings()
    assert s.calls.transfer.targets == []
    assert s.calls.transfer.pass_caller_id is True
    assert (s.calls.retry.attempts, s.calls.retry.backoff_seconds) == (1, 300)
    assert s.calls.retry.backoff_multiplier == 2.0
    assert s.calls.retry.on == ["busy", "no-answer", "failed"]
    assert not s.calls.hours.restricted
    assert s.calls.blocked_numbers == []
    assert (s.limits.daily_spend_usd, s.limits.per_call_spend_usd) == (None, None)
    assert s.limits.time_zone == "UTC"


def test_numbers_are_normalised() -> None:
    s = Settings.model_validate(
        {
            "calls": {
                "transfer": {"targets": [{"label": "front desk", "number": "+1 (415) 555-0123"}]},
                "blockedNumbers": ["0044 20 7946 0000"],
            }
        }
    )
    assert s.calls.transfer.targets[0].number == "+14155550123"
    assert s.calls.blocked_numbers == ["+442079460000"]


@pytest.mark.parametrize(
    ("data", "key", "says"),
    [
        (
            {"calls": {"transfer": {"targets": [{"label": "desk", "number": "911"}]}}},
            "calls.transfer.targets.0.number",
            "E.164",
        ),
        (
            {"calls": {"transfer": {"targets": [{"label": "", "number": "+14155550123"}]}}},
            "calls.transfer.targets.0.label",
            "at least 1",
        ),
        (
            {
                "calls": {
                    "transfer": {
                        "targets": [
                            {"label": "Desk", "number": "+14155550123"},
                            {"label": "desk ", "number": "+14155550124"},
                        ]
                    }
                }
            },
            "calls.transfer.targets",
            "repeated: desk",
        ),
        (
            {
                "calls": {
                    "transfer": {"targets": [{"label": "a", "number": "+14155550123", "x": 1}]}
                }
            },
            "calls.transfer.targets.0.x",
            "Extra inputs",
        ),
        ({"calls": {"retry": {"attempts": 0}}}, "calls.retry.attempts", "greater than or equal"),
        ({"calls": {"retry": {"attempts": 11}}}, "calls.retry.attempts", "less than or equal"),
        ({"calls": {"retry": {"backoffSeconds": 1}}}, "calls.retry.backoffSeconds", "10"),
        ({"calls": {"retry": {"on": ["busy", "busy"]}}}, "calls.retry.on", "repeat"),
        ({"calls": {"retry": {"on": ["engaged"]}}}, "calls.retry.on.0", "voicemail"),
        ({"calls": {"blockedNumbers": ["not a number"]}}, "calls.blockedNumbers.0", "E.164"),
        ({"limits": {"dailySpendUsd": 0}}, "limits.dailySpendUsd", "greater than 0"),
        ({"limits": {"perCallSpendUsd": -1}}, "limits.perCallSpendUsd", "greater than 0"),
        ({"limits": {"timeZone": "Europe/Atlantis"}}, "limits.timeZone", "unknown time zone"),
        ({"limits": {"timeZone": "../../etc/passwd"}}, "limits.timeZone", "IANA"),
    ],
)
def test_bad_values_name_their_key(data: dict[str, object], key: str, says: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings.model_validate(data)
    text = str(caught.value)
    assert key in text
    assert says in text
