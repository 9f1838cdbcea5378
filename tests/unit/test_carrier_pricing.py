"""Carrier minutes are priced at the rate of the carrier that carried the call: configured
(one rate, or one per carrier), else that carrier's built-in list rate."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicecall_rt.call.records import CallRecord
from voicecall_rt.config import ConfigError, PricingSettings, Settings
from voicecall_rt.config_file import load_settings
from voicecall_rt.prices import CARRIER_PER_MINUTE, carrier_rate
from voicecall_rt.pricing import call_cost, cost

CARRIERS = ("twilio", "telnyx", "plivo", "signalwire")


def test_every_carrier_has_a_built_in_rate() -> None:
    assert set(CARRIER_PER_MINUTE) == set(CARRIERS)
    for carrier in CARRIERS:
        assert carrier_rate(carrier, None) == CARRIER_PER_MINUTE[carrier] > 0


def test_one_configured_rate_applies_to_whichever_carrier() -> None:
    pricing = PricingSettings.model_validate({"carrierPerMinute": 0.02})
    for carrier in CARRIERS:
        assert carrier_rate(carrier, pricing) == 0.02


def test_a_rate_per_carrier_and_the_built_in_one_for_the_others() -> None:
    pricing = PricingSettings.model_validate({"carrierPerMinute": {"plivo": 0.03}})
    assert carrier_rate("plivo", pricing) == 0.03
    assert carrier_rate("telnyx", pricing) == CARRIER_PER_MINUTE["telnyx"]
    # 61 s answered: two started minutes at the call's own carrier's rate.
    result = cost(None, 61_000, "gpt-realtime", pricing, carrier="plivo")
    assert result.carrier_minutes == 2 and result.carrier_usd == pytest.approx(0.06)


def test_a_stored_call_is_priced_at_its_own_carrier() -> None:
    settings = Settings.model_validate(
        {"carrier": "telnyx", "pricing": {"carrierPerMinute": {"twilio": 0.5, "plivo": 0.25}}}
    )
    base = {"direction": "outbound", "from_number": "+1", "to_number": "+2"}
    answered = {"answered_at": 1_000, "ended_at": 31_000}  # one started minute
    plivo = CallRecord(id="call_a", carrier="plivo", **base, **answered)
    assert call_cost(plivo, settings).carrier_usd == pytest.approx(0.25)
    # Stored before carriers could be chosen: Twilio's, whatever is configured now.
    older = CallRecord(id="call_b", **base, **answered)
    assert call_cost(older, settings).carrier_usd == pytest.approx(0.5)


def test_bad_rates_are_named_by_key(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"pricing": {"carrierPerMinute": {"telnyx": -1}}}')
    with pytest.raises(ConfigError, match=r"pricing\.carrierPerMinute"):
        load_settings(path, env={})
    path.write_text('{"pricing": {"carrierPerMinute": {"vonage": 0.01}}}')
    with pytest.raises(ConfigError, match=r"pricing\.carrierPerMinute"):
        load_settings(path, env={})
