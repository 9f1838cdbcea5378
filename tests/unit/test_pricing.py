"""Call cost: token usage × the price table (list prices, config overrides), plus carrier
minutes; an unpriced model gives an unknown cost, never zero."""

from __future__ import annotations

from typing import Any

import pytest

from voicecall_rt.call.records import CallRecord
from voicecall_rt.config import ConfigError, PricingSettings, Settings, load_settings
from voicecall_rt.pricing import (
    LIST_PRICES,
    billed_minutes,
    call_cost,
    cost,
    describe_cost,
    price_for,
)

# Accumulated the way the bridge keeps it (CallBridge._add_usage).
USAGE: dict[str, Any] = {
    "model": "gpt-realtime",
    "input_tokens": 11_000,
    "output_tokens": 3_210,
    "total_tokens": 14_210,
    "input_text_tokens": 7_000,
    "input_audio_tokens": 4_000,
    "input_cached_tokens": 6_400,
    "input_cached_text_tokens": 6_000,
    "input_cached_audio_tokens": 400,
    "output_text_tokens": 800,
    "output_audio_tokens": 2_410,
}
# By hand, at gpt-realtime list prices per 1M tokens: text in 4, cached text 0.40,
# text out 16, audio in 32, cached audio 0.40, audio out 64.
EXPECTED_MODEL_USD = (
    1_000 * 4.0  # uncached text in
    + 6_000 * 0.40  # cached text in
    + 3_600 * 32.0  # uncached audio in
    + 400 * 0.40  # cached audio in
    + 800 * 16.0  # text out
    + 2_410 * 64.0  # audio out
) / 1_000_000  # = 0.2888 USD


def test_model_cost_from_known_usage_and_duration() -> None:
    result = cost(USAGE, talk_ms=61_000, model="gpt-realtime")
    assert pytest.approx(0.2888) == EXPECTED_MODEL_USD
    assert result.model_usd == pytest.approx(EXPECTED_MODEL_USD, abs=1e-9)
    assert result.carrier_minutes == 2  # 61 s: two started minutes
    assert result.carrier_usd == pytest.approx(0.028)
    assert result.total_usd == pytest.approx(EXPECTED_MODEL_USD + 0.028, abs=1e-6)
    assert result.priced and result.model == "gpt-realtime" and result.currency == "USD"


@pytest.mark.parametrize(
    ("talk_ms", "minutes"),
    [(None, 0), (0, 0), (1, 1), (59_999, 1), (60_000, 1), (60_001, 2), (600_000, 10)],
)
def test_carrier_bills_every_started_minute(talk_ms: int | None, minutes: int) -> None:
    assert billed_minutes(talk_ms) == minutes


def test_mini_list_prices() -> None:
    usage = {**USAGE, "model": "gpt-realtime-mini"}
    expected = (
        1_000 * 0.60 + 6_000 * 0.06 + 3_600 * 10.0 + 400 * 0.30 + 800 * 2.40 + 2_410 * 20.0
    ) / 1_000_000
    assert cost(usage, 0, "gpt-realtime").model_usd == pytest.approx(expected, abs=1e-9)


def test_the_model_recorded_with_the_usage_wins_over_the_configured_one() -> None:
    mini = cost(USAGE | {"model": "gpt-realtime-mini"}, 0, model="gpt-realtime")
    assert mini.model == "gpt-realtime-mini"
    no_model = {k: v for k, v in USAGE.items() if k != "model"}
    assert cost(no_model, 0, model="gpt-realtime-mini").model == "gpt-realtime-mini"


def test_dated_snapshot_priced_as_its_model() -> None:
    assert price_for("gpt-realtime-2025-08-28") == LIST_PRICES["gpt-realtime"]
    assert price_for("gpt-realtime-mini-2025-10-06") == LIST_PRICES["gpt-realtime-mini"]
    assert price_for("gpt-realtime-2") is None  # another model, not a snapshot


def test_unknown_model_cost_is_unknown_not_zero() -> None:
    result = cost(USAGE | {"model": "gpt-realtime-9"}, 30_000, model="gpt-realtime")
    assert result.model_usd is None
    assert result.total_usd is None
    assert not result.priced
    assert result.carrier_usd == pytest.approx(0.014)  # the minutes are still known
    assert "unknown" in describe_cost(result.model_dump())
    # ...but a call that used no tokens cost nothing, whatever the model
    assert cost(None, 0, model="gpt-realtime-9").total_usd == 0


def test_overrides_replace_list_prices_key_by_key() -> None:
    pricing = PricingSettings.model_validate(
        {"carrierPerMinute": 0.02, "models": {"gpt-realtime": {"audioOut": 50, "textIn": 3}}}
    )
    result = cost(USAGE, 120_000, "gpt-realtime", pricing)
    expected = (
        1_000 * 3.0 + 6_000 * 0.40 + 3_600 * 32.0 + 400 * 0.40 + 800 * 16.0 + 2_410 * 50.0
    ) / 1_000_000
    assert result.model_usd == pytest.approx(expected, abs=1e-9)
    assert result.carrier_usd == pytest.approx(0.04)


def test_a_new_model_priced_in_full_from_config() -> None:
    prices = {
        "textIn": 1,
        "cachedTextIn": 0.1,
        "textOut": 2,
        "audioIn": 3,
        "cachedAudioIn": 0.2,
        "audioOut": 4,
    }
    pricing = PricingSettings.model_validate({"models": {"my-realtime": prices}})
    result = cost(USAGE | {"model": "my-realtime"}, 0, "gpt-realtime", pricing)
    expected = (1_000 * 1 + 6_000 * 0.1 + 3_600 * 3 + 400 * 0.2 + 800 * 2 + 2_410 * 4) / 1e6
    assert result.model_usd == pytest.approx(expected, abs=1e-9)


def test_config_names_bad_pricing_keys(tmp_path: Any) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"pricing": {"models": {"gpt-realtime": {"audioInn": 1}}}}')
    with pytest.raises(ConfigError, match=r"pricing\.models\.gpt-realtime\.audioInn"):
        load_settings(path, env={})
    path.write_text('{"pricing": {"models": {"other-model": {"audioIn": 1}}}}')
    with pytest.raises(ConfigError, match=r"pricing\.models: other-model .*missing: textIn"):
        load_settings(path, env={})
    path.write_text('{"pricing": {"carrierPerMinute": -1}}')
    with pytest.raises(ConfigError, match=r"pricing\.carrierPerMinute"):
        load_settings(path, env={})
    path.write_text('{"pricing": {"models": {"gpt-realtime": {"textOut": -2}}}}')
    with pytest.raises(ConfigError, match=r"pricing\.models\.gpt-realtime\.textOut"):
        load_settings(path, env={})


def test_cached_split_missing_falls_back_to_text_first() -> None:
    usage = {k: v for k, v in USAGE.items() if not k.startswith("input_cached_")}
    usage["input_cached_tokens"] = 7_400  # all 7,000 text, then 400 audio
    assert cost(usage, 0, "gpt-realtime").model_usd == pytest.approx(
        (7_000 * 0.40 + 3_600 * 32.0 + 400 * 0.40 + 800 * 16.0 + 2_410 * 64.0) / 1e6, abs=1e-9
    )


def test_call_cost_of_a_stored_record() -> None:
    settings = Settings()
    record = CallRecord(
        id="call_1",
        direction="outbound",
        from_number="+14155550100",
        to_number="+14155550123",
        created_at=1_000,
        answered_at=2_000,
        ended_at=2_000 + 125_000,
        usage=USAGE,
    )
    result = call_cost(record, settings)
    assert result.carrier_minutes == 3
    assert result.total_usd == pytest.approx(EXPECTED_MODEL_USD + 3 * 0.014, abs=1e-6)
    unanswered = record.model_copy(update={"answered_at": None, "usage": None})
    assert call_cost(unanswered, settings).total_usd == 0
