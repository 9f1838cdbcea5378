"""What a call cost: model tokens from `response.done` usage, the caller's transcription,
plus carrier minutes, at the prices prices.py gives (the built-in list prices under the
config's). A model with no price gives an unknown cost (None), never a made-up zero.

The cost is computed when a call is shown, from the usage and times stored with it, at
the prices configured now.

Cost of the usage (docs/protocols.md §1.6): uncached text in, cached text in, uncached audio in,
cached audio in, text out and audio out, each times its price. The caller's transcription
is billed apart by OpenAI: tokens (audio in, text in, text out) or seconds of audio,
whichever the transcription model reports. The carrier bills every started minute from
answer to hang-up at the rate of the carrier that carried the call: `pricing.carrierPerMinute`
(one rate, or a rate per carrier), else that carrier's built-in US list rate
(`prices.CARRIER_PER_MINUTE`); a call never answered costs no carrier minutes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from voicecall_rt.prices import (
    PER_TOKENS,
    ModelPrice,
    TranscriptionPrice,
    carrier_rate,
    price_for,
    transcription_price_for,
)

if TYPE_CHECKING:
    from voicecall_rt.call.records import CallRecord
    from voicecall_rt.config import PricingSettings, Settings


def _tokens(usage: Mapping[str, Any], key: str) -> int:
    value = usage.get(key)
    return int(value) if isinstance(value, int | float) and value > 0 else 0


def model_cost(usage: Mapping[str, Any], price: ModelPrice) -> float:
    """USD for accumulated usage (the bridge's keys, see CallBridge._add_usage)."""
    text_in = _tokens(usage, "input_text_tokens")
    audio_in = _tokens(usage, "input_audio_tokens")
    cached = _tokens(usage, "input_cached_tokens")
    if "input_cached_text_tokens" in usage or "input_cached_audio_tokens" in usage:
        cached_text = _tokens(usage, "input_cached_text_tokens")
        cached_audio = _tokens(usage, "input_cached_audio_tokens")
    else:  # no text/audio split recorded: the cached prefix starts with the text context
        cached_text = min(cached, text_in)
        cached_audio = min(cached - cached_text, audio_in)
    cached_text = min(cached_text, text_in)
    cached_audio = min(cached_audio, audio_in)
    total = (
        (text_in - cached_text) * price.text_in
        + cached_text * price.cached_text_in
        + (audio_in - cached_audio) * price.audio_in
        + cached_audio * price.cached_audio_in
        + _tokens(usage, "output_text_tokens") * price.text_out
        + _tokens(usage, "output_audio_tokens") * price.audio_out
    )
    return total / PER_TOKENS


# The bridge's transcription usage keys, summed over the call, and the price of each.
_TRANSCRIPTION_TOKENS = {
    "transcription_input_audio_tokens": "audio_in",
    "transcription_input_text_tokens": "text_in",
    "transcription_output_tokens": "text_out",
}


def transcription_used(usage: Mapping[str, Any]) -> bool:
    return _transcription_seconds(usage) > 0 or any(
        _tokens(usage, k) for k in _TRANSCRIPTION_TOKENS
    )


def _transcription_seconds(usage: Mapping[str, Any]) -> float:
    value = usage.get("transcription_seconds")
    return float(value) if isinstance(value, int | float) and value > 0 else 0.0


def transcription_cost(usage: Mapping[str, Any], price: TranscriptionPrice | None) -> float | None:
    """USD for the caller's transcription; None when something used has no price (a model
    billed by tokens that reported seconds, say), 0 when nothing was used."""
    total = 0.0
    for key, field in _TRANSCRIPTION_TOKENS.items():
        used = _tokens(usage, key)
        if used:
            per_million = None if price is None else getattr(price, field)
            if per_million is None:
                return None
            total += used * per_million / PER_TOKENS
    seconds = _transcription_seconds(usage)
    if seconds:
        if price is None or price.per_minute is None:
            return None
        total += seconds / 60 * price.per_minute  # billed by the second, priced by the minute
    return total


def billed_minutes(talk_ms: int | None) -> int:
    """Carrier minutes: every started minute of the answered call."""
    if talk_ms is None or talk_ms <= 0:
        return 0
    return -(-talk_ms // 60_000)


class CallCost(BaseModel):
    """A call's cost in USD. A part is None when its model is unpriced, and so is the total."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model_usd: float | None
    transcription_usd: float | None = Field(
        description="the caller's transcription, billed apart by OpenAI"
    )
    carrier_usd: float
    total_usd: float | None
    currency: Literal["USD"] = "USD"
    model: str = Field(description="the model the tokens were priced as")
    transcription_model: str | None = Field(description="the model the transcription was priced as")
    carrier_minutes: int = Field(description="started minutes from answer to hang-up")
    priced: bool = Field(description="whether a price is known for the model")


def cost(
    usage: Mapping[str, Any] | None,
    talk_ms: int | None,
    model: str,
    pricing: PricingSettings | None = None,
    transcription_model: str | None = None,
    carrier: str | None = None,
) -> CallCost:
    """The cost of `usage` (as the bridge accumulates it) and `talk_ms` answered milliseconds.

    The models recorded in the usage win over `model` and `transcription_model` (the
    configured ones)."""
    usage = usage or {}
    model = str(usage.get("model") or model)
    price = price_for(model, pricing)
    model_usd: float | None
    if not any(_tokens(usage, k) for k in ("input_tokens", "output_tokens")):
        model_usd = 0.0  # nothing was used: nothing to pay, priced or not
    elif price is None:
        model_usd = None
    else:
        model_usd = model_cost(usage, price)
    transcriber = usage.get("transcription_model") or transcription_model
    transcription_usd: float | None = 0.0
    if transcription_used(usage):
        found = None if not transcriber else transcription_price_for(str(transcriber), pricing)
        transcription_usd = transcription_cost(usage, found)
    per_minute = carrier_rate(carrier, pricing)
    minutes = billed_minutes(talk_ms)
    carrier_usd = minutes * per_minute
    parts = (model_usd, transcription_usd)
    total = None if None in parts else sum(p or 0.0 for p in parts) + carrier_usd
    return CallCost(
        model_usd=_round(model_usd),
        transcription_usd=_round(transcription_usd),
        carrier_usd=round(carrier_usd, 6),
        total_usd=_round(total),
        model=model,
        transcription_model=None if not transcriber else str(transcriber),
        carrier_minutes=minutes,
        priced=price is not None,
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def call_cost(record: CallRecord, settings: Settings) -> CallCost:
    """The cost of a stored call (a live one: so far), at the configured prices.

    The models are the ones recorded with the call's usage, else the configured ones."""
    duration = record.duration_s
    talk_ms = None if duration is None else round(duration * 1000)
    return cost(
        record.usage,
        talk_ms,
        settings.openai.model,
        settings.pricing,
        settings.openai.transcription_model,
        record.carrier,
    )


def format_usd(value: float | None) -> str:
    if value is None:
        return "?"
    return f"${value:.4f}" if value < 1 else f"${value:.2f}"


def describe_cost(cost: Mapping[str, Any] | None) -> str:
    """One line for people: `$0.0512 (model $0.0362, transcription $0.0010, carrier $0.0140
    for 1 min)`; a transcription part only when there is one."""
    if not cost:
        return "-"
    minutes = cost.get("carrier_minutes", 0)
    carrier = f"carrier {format_usd(cost.get('carrier_usd'))} for {minutes} min"
    has_transcription = "transcription_usd" in cost
    transcription = cost.get("transcription_usd")
    if cost.get("total_usd") is None:
        if has_transcription and transcription is None:
            why = f"no price for transcription model {cost.get('transcription_model')!r}"
        else:
            why = f"no price for model {cost.get('model')!r}"
        return f"unknown ({why}; {carrier})"
    parts = [f"model {format_usd(cost.get('model_usd'))}"]
    if transcription:
        parts.append(f"transcription {format_usd(transcription)}")
    parts.append(carrier)
    return f"{format_usd(cost['total_usd'])} ({', '.join(parts)})"
