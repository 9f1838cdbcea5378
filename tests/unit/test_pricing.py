"""Call cost: token usage × the price table (list prices, config overrides), plus carrier
minutes; an unpriced model gives an unknown cost, never zero."""

from __future__ import annotations

import json
from typing import Any

import pytest

from voicecall_rt.call.records import CallRecord
from voicecall_rt.config import ConfigError, PricingSettings, Settings
from voicecall_rt.config_file import load_settings
from voicecall_rt.model import catalog
from voicecall_rt.prices import (
    CARRIER_PER_MINUTE,
    LIST_PRICES,
    LIST_TRANSCRIPTION_PRICES,
    TranscriptionPrice,
    price_for,
    transcription_price_for,
)
from voicecall_rt.pricing import CallCost, billed_minutes, call_cost, cost, describe_cost

TWILIO = CARRIER_PER_MINUTE["twilio"]  # the default carrier's built-in rate

# Accumulated the way the model backend adds it up (model/events.py, EventReader).
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
    assert result.carrier_usd == pytest.approx(2 * TWILIO)
    assert result.total_usd == pytest.approx(EXPECTED_MODEL_USD + 2 * TWILIO, abs=1e-6)
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
    # another model, not a snapshot: its own (higher text out) price
    assert price_for("gpt-realtime-2") != LIST_PRICES["gpt-realtime"]
    assert price_for("gpt-realtime-2.1-2026-09-01") == LIST_PRICES["gpt-realtime-2.1"]


@pytest.mark.parametrize(
    ("model", "text", "audio"),
    [
        # OpenAI's model pages: text in / cached / out, audio in / cached / out per 1M.
        ("gpt-realtime-2.1", (4.0, 0.40, 24.0), (32.0, 0.40, 64.0)),
        ("gpt-realtime-2", (4.0, 0.40, 24.0), (32.0, 0.40, 64.0)),
        ("gpt-realtime-2.1-mini", (0.60, 0.06, 2.40), (10.0, 0.30, 20.0)),
        ("gpt-realtime-1.5", (4.0, 0.40, 16.0), (32.0, 0.40, 64.0)),
    ],
)
def test_list_prices_of_the_current_models(
    model: str, text: tuple[float, ...], audio: tuple[float, ...]
) -> None:
    price = LIST_PRICES[model]
    assert (price.text_in, price.cached_text_in, price.text_out) == text
    assert (price.audio_in, price.cached_audio_in, price.audio_out) == audio


def test_the_default_models_are_priced() -> None:
    settings = Settings()
    assert price_for(settings.openai.model) is not None
    assert transcription_price_for(settings.openai.transcription_model) is not None
    # ...and the cheaper choice the README names
    assert price_for("gpt-realtime-2.1-mini") is not None
    for name in [*LIST_PRICES, *LIST_TRANSCRIPTION_PRICES]:
        info = catalog.lookup(name)
        assert info is not None, name
        assert info.kind == ("realtime" if name in LIST_PRICES else "transcription"), name


def test_unknown_model_cost_is_unknown_not_zero() -> None:
    result = cost(USAGE | {"model": "gpt-realtime-9"}, 30_000, model="gpt-realtime")
    assert result.model_usd is None
    assert result.total_usd is None
    assert not result.priced
    assert result.carrier_usd == pytest.approx(TWILIO)  # the minutes are still known
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
    assert result.total_usd == pytest.approx(EXPECTED_MODEL_USD + 3 * TWILIO, abs=1e-6)
    unanswered = record.model_copy(update={"answered_at": None, "usage": None})
    assert call_cost(unanswered, settings).total_usd == 0


# ---- the caller's transcription ----------------------------------------------------------

# The bridge's transcription keys, summed over the call (a token-priced model).
TOKEN_TRANSCRIPTION: dict[str, Any] = {
    "transcription_model": "gpt-4o-mini-transcribe",
    "transcription_input_audio_tokens": 3_000,
    "transcription_input_text_tokens": 200,
    "transcription_output_tokens": 500,
}
# By hand, at gpt-4o-mini-transcribe's prices per 1M: audio in 3, text in 1.25, text out 5.
EXPECTED_TOKEN_TRANSCRIPTION_USD = (3_000 * 3.0 + 200 * 1.25 + 500 * 5.0) / 1e6


def test_token_priced_transcription_is_counted_in_the_total() -> None:
    result = cost(USAGE | TOKEN_TRANSCRIPTION, 61_000, "gpt-realtime")
    assert result.transcription_usd == pytest.approx(EXPECTED_TOKEN_TRANSCRIPTION_USD, abs=1e-9)
    assert result.transcription_model == "gpt-4o-mini-transcribe"
    assert result.model_usd == pytest.approx(EXPECTED_MODEL_USD, abs=1e-9)
    assert result.total_usd == pytest.approx(
        EXPECTED_MODEL_USD + EXPECTED_TOKEN_TRANSCRIPTION_USD + 2 * TWILIO, abs=1e-6
    )
    text = describe_cost(result.model_dump())
    assert "transcription $0.0118" in text and text.startswith(format_total(result))


def format_total(result: CallCost) -> str:
    assert result.total_usd is not None
    return f"${result.total_usd:.4f}"


def test_duration_priced_transcription_by_the_second() -> None:
    usage = USAGE | {"transcription_model": "gpt-transcribe", "transcription_seconds": 90.5}
    result = cost(usage, 61_000, "gpt-realtime")
    # gpt-transcribe: $0.0045 a minute of audio
    assert result.transcription_usd == pytest.approx(90.5 / 60 * 0.0045, abs=1e-6)
    assert result.total_usd == pytest.approx(
        EXPECTED_MODEL_USD + 90.5 / 60 * 0.0045 + 2 * TWILIO, abs=1e-6
    )
    whisper = cost(usage | {"transcription_model": "whisper-1"}, 0, "gpt-realtime")
    assert whisper.transcription_usd == pytest.approx(90.5 / 60 * 0.006, abs=1e-6)


def test_unpriced_transcription_makes_the_total_unknown_not_smaller() -> None:
    usage = USAGE | TOKEN_TRANSCRIPTION | {"transcription_model": "gpt-live-transcribe"}
    result = cost(usage, 30_000, "gpt-realtime")
    assert result.transcription_usd is None
    assert result.total_usd is None
    assert result.model_usd == pytest.approx(EXPECTED_MODEL_USD, abs=1e-9)
    assert result.priced  # the Realtime model's price is known
    assert describe_cost(result.model_dump()) == (
        "unknown (no price for transcription model 'gpt-live-transcribe'; "
        "carrier $0.0184 for 1 min)"
    )
    # A model billed by tokens that reported seconds: no price for what was used.
    seconds = {"transcription_model": "gpt-4o-transcribe", "transcription_seconds": 12.0}
    assert cost(seconds, 0, "gpt-realtime").transcription_usd is None


def test_no_transcription_used_costs_nothing_whatever_the_model() -> None:
    result = cost(USAGE, 0, "gpt-realtime", transcription_model="gpt-live-transcribe")
    assert result.transcription_usd == 0 and result.total_usd is not None
    assert result.transcription_model == "gpt-live-transcribe"
    assert "transcription" not in describe_cost(result.model_dump())
    zeros = dict.fromkeys(TOKEN_TRANSCRIPTION, 0) | {"transcription_model": "nobody-knows"}
    assert cost(zeros, 0, "gpt-realtime").transcription_usd == 0


def test_transcription_model_recorded_with_the_usage_wins() -> None:
    usage = {k: v for k, v in TOKEN_TRANSCRIPTION.items() if k != "transcription_model"}
    configured = cost(usage, 0, "gpt-realtime", transcription_model="gpt-4o-transcribe")
    assert configured.transcription_model == "gpt-4o-transcribe"
    assert configured.transcription_usd == pytest.approx(
        (3_000 * 6.0 + 200 * 2.50 + 500 * 10.0) / 1e6, abs=1e-9
    )
    recorded = cost(TOKEN_TRANSCRIPTION, 0, "gpt-realtime", transcription_model="gpt-transcribe")
    assert recorded.transcription_usd == pytest.approx(EXPECTED_TOKEN_TRANSCRIPTION_USD, abs=1e-9)


def test_call_cost_prices_transcription_at_the_configured_model() -> None:
    settings = Settings.model_validate({"openai": {"transcriptionModel": "whisper-1"}})
    record = CallRecord(
        id="call_2",
        direction="outbound",
        from_number="+14155550100",
        to_number="+14155550123",
        created_at=1_000,
        answered_at=2_000,
        ended_at=2_000 + 60_000,
        usage=USAGE | {"transcription_seconds": 60.0},
    )
    result = call_cost(record, settings)
    assert result.transcription_model == "whisper-1"
    assert result.transcription_usd == pytest.approx(0.006)
    assert result.total_usd == pytest.approx(EXPECTED_MODEL_USD + 0.006 + TWILIO, abs=1e-6)


def test_transcription_prices_overridden_in_config() -> None:
    pricing = PricingSettings.model_validate(
        {
            "models": {
                "gpt-transcribe": {"perMinute": 0.01},
                "gpt-4o-mini-transcribe": {"audioIn": 4},
                "gpt-4o-mini-transcribe-2025-12-15": {"textOut": 6},
                "my-transcriber": {"perMinute": 0.002},
                "my-token-transcriber": {"audioIn": 1, "textIn": 2, "textOut": 3},
            }
        }
    )
    assert transcription_price_for("gpt-transcribe", pricing) == TranscriptionPrice(per_minute=0.01)
    assert transcription_price_for("gpt-4o-mini-transcribe-2025-12-15", pricing) == (
        TranscriptionPrice(audio_in=4, text_in=1.25, text_out=6)  # family, then exact name
    )
    usage = {"transcription_model": "my-transcriber", "transcription_seconds": 30.0}
    assert cost(usage, 0, "gpt-realtime", pricing).transcription_usd == pytest.approx(0.001)
    usage = TOKEN_TRANSCRIPTION | {"transcription_model": "my-token-transcriber"}
    assert cost(usage, 0, "gpt-realtime", pricing).transcription_usd == pytest.approx(
        (3_000 * 1 + 200 * 2 + 500 * 3) / 1e6
    )
    # A transcription price is not a Realtime price: that model is still unpriced there.
    assert price_for("my-transcriber", pricing) is None
    assert transcription_price_for("gpt-realtime", pricing) is None


@pytest.mark.parametrize(
    ("models", "message"),
    [
        (
            {"gpt-transcribe": {"audioOut": 1}},
            r"gpt-transcribe is a transcription model: audioOut does not apply",
        ),
        (
            {"gpt-realtime-2.1": {"perMinute": 1}},
            r"gpt-realtime-2\.1 is a Realtime model: perMinute does not apply",
        ),
        (
            {"gpt-live-transcribe": {"textIn": 1}},
            r"gpt-live-transcribe has no list price: give audioIn, textIn and textOut, or"
            r" perMinute",
        ),
        (
            {"gpt-4o-realtime-preview": {"perMinute": 1}},
            r"gpt-4o-realtime-preview has no list price, so every price must be given"
            r" \(missing: textIn, cachedTextIn, textOut, audioIn, cachedAudioIn, audioOut\)$",
        ),
        (
            {"other-model": {"audioIn": 1, "cachedAudioIn": 1}},
            r"other-model has no list price, so every price must be given \(missing: textIn",
        ),
    ],
)
def test_config_refuses_prices_that_do_not_fit_the_model(
    tmp_path: Any, models: dict[str, Any], message: str
) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"pricing": {"models": models}}))
    with pytest.raises(ConfigError, match=r"pricing\.models: " + message):
        load_settings(path, env={})


def test_call_cost_schema_publishes_the_transcription_part() -> None:
    schema = CallCost.model_json_schema(mode="serialization")
    assert {"transcription_usd", "transcription_model"} <= set(schema["required"])
