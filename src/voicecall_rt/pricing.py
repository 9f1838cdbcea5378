"""What a call cost: model tokens from `response.done` usage, the caller's transcription,
plus carrier minutes.

Prices are in USD: per million tokens, or per minute of audio for the transcription models
billed by duration. The built-in tables hold OpenAI's *list* prices as documented when this
was written (each entry names its source); they are not fetched and must be checked
against the current price page — `pricing.models.<name>` in the config overrides any of
them, and adds models the tables do not know. A model with no price gives an unknown cost
(None), never a made-up zero.

The cost is computed when a call is shown, from the usage and times stored with it, at
the prices configured now.

Cost of the usage (docs/protocols.md §1.6): uncached text in, cached text in, uncached audio in,
cached audio in, text out and audio out, each times its price. The caller's transcription
is billed apart by OpenAI: tokens (audio in, text in, text out) or seconds of audio,
whichever the transcription model reports. The carrier bills every started minute from
answer to hang-up at the rate of the carrier that carried the call: `pricing.carrierPerMinute`
(one rate, or a rate per carrier), else that carrier's built-in US list rate
(`CARRIER_PER_MINUTE`); a call never answered costs no carrier minutes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from voicecall_rt.model import catalog

if TYPE_CHECKING:
    from voicecall_rt.call.records import CallRecord
    from voicecall_rt.config import PricingSettings, Settings

PER_TOKENS = 1_000_000
# USD per started minute of an outbound US call with its media stream, at each carrier's
# published list rates (the voice minute plus any per-minute streaming fee); README's
# "Cost" table gives the sources. A call stored before carriers could be chosen is Twilio's.
CARRIER_PER_MINUTE: Mapping[str, float] = {
    "twilio": 0.0184,  # voice 0.014 + Media Streams 0.0044
    "telnyx": 0.0105,  # termination 0.005 + Call Control 0.002 + media streaming 0.0035
    "plivo": 0.0155,  # voice 0.0115 + Audio Streaming 0.004
    "signalwire": 0.011,  # voice 0.008 + <Stream> 0.003
}
DEFAULT_CARRIER = "twilio"


def carrier_rate(carrier: str | None, pricing: PricingSettings | None) -> float:
    """USD per started minute for `carrier`: as configured, else its built-in rate."""
    name = carrier or DEFAULT_CARRIER
    configured = pricing.carrier_per_minute if pricing is not None else None
    if isinstance(configured, int | float):
        return float(configured)
    if configured is not None and name in configured:
        return float(configured[name])
    return CARRIER_PER_MINUTE.get(name, CARRIER_PER_MINUTE[DEFAULT_CARRIER])


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """USD per million tokens."""

    text_in: float
    cached_text_in: float
    text_out: float
    audio_in: float
    cached_audio_in: float
    audio_out: float


# List prices per 1M tokens (verify before relying on them; override in the config).
# Sources: OpenAI's model pages (developers.openai.com/api/docs/models/<name>), read for
# gpt-realtime-2, gpt-realtime-2.1, gpt-realtime-2.1-mini and gpt-realtime-1.5 in late 2026;
# gpt-realtime and gpt-realtime-mini as listed when they were current (docs/protocols.md §1.9).
_REALTIME_PRICE = ModelPrice(
    text_in=4.0,
    cached_text_in=0.40,
    text_out=16.0,
    audio_in=32.0,
    cached_audio_in=0.40,
    audio_out=64.0,
)
_MINI_PRICE = ModelPrice(
    text_in=0.60,
    cached_text_in=0.06,
    text_out=2.40,
    audio_in=10.0,
    cached_audio_in=0.30,
    audio_out=20.0,
)
# The reasoning models' text output is listed at $24, not $16; the rest is the same.
_REALTIME_2_PRICE = replace(_REALTIME_PRICE, text_out=24.0)
LIST_PRICES: Mapping[str, ModelPrice] = {
    "gpt-realtime-2.1": _REALTIME_2_PRICE,
    "gpt-realtime-2.1-mini": _MINI_PRICE,  # the same figures as gpt-realtime-mini's
    "gpt-realtime-2": _REALTIME_2_PRICE,
    "gpt-realtime-1.5": _REALTIME_PRICE,
    "gpt-realtime": _REALTIME_PRICE,
    "gpt-realtime-mini": _MINI_PRICE,
}
PRICE_FIELDS: tuple[str, ...] = tuple(ModelPrice.__dataclass_fields__)


@dataclass(frozen=True, slots=True)
class TranscriptionPrice:
    """USD per million tokens (audio in, text in, text out) for a model billed by tokens,
    per minute of audio for one billed by duration; None where the model is not billed so."""

    audio_in: float | None = None
    text_in: float | None = None
    text_out: float | None = None
    per_minute: float | None = None


TRANSCRIPTION_PRICE_FIELDS: tuple[str, ...] = tuple(TranscriptionPrice.__dataclass_fields__)
_TOKEN_FIELDS = ("audio_in", "text_in", "text_out")
# Sources: gpt-transcribe $0.0045/min and gpt-realtime-whisper $0.017/min: their OpenAI
# model pages. gpt-4o-transcribe text $2.50 in / $10 out and gpt-4o-mini-transcribe text
# $1.25 / $5: OpenAI's model and compare pages; their audio-in prices ($6, $3) were not on
# those pages: OpenAI's pricing page as quoted by OpenAI's cookbook (gpt-4o-transcribe) and
# by a reader of that page (mini) — unconfirmed. whisper-1 $0.006/min: its long-standing
# list price, as resold per minute by OpenRouter — unconfirmed.
LIST_TRANSCRIPTION_PRICES: Mapping[str, TranscriptionPrice] = {
    "gpt-transcribe": TranscriptionPrice(per_minute=0.0045),
    "gpt-realtime-whisper": TranscriptionPrice(per_minute=0.017),
    "gpt-4o-transcribe": TranscriptionPrice(audio_in=6.0, text_in=2.50, text_out=10.0),
    "gpt-4o-mini-transcribe": TranscriptionPrice(audio_in=3.0, text_in=1.25, text_out=5.0),
    "whisper-1": TranscriptionPrice(per_minute=0.006),
}


def _names(model: str) -> list[str]:
    """`model`, then the model a dated snapshot (`gpt-realtime-2025-08-28`) belongs to."""
    base = catalog.family(model)
    return [model] if base == model else [model, base]


def list_price(model: str) -> ModelPrice | None:
    for name in _names(model):
        if name in LIST_PRICES:
            return LIST_PRICES[name]
    return None


def list_transcription_price(model: str) -> TranscriptionPrice | None:
    for name in _names(model):
        if name in LIST_TRANSCRIPTION_PRICES:
            return LIST_TRANSCRIPTION_PRICES[name]
    return None


def _merged(
    model: str, listed: Any, fields: tuple[str, ...], pricing: PricingSettings | None
) -> dict[str, float]:
    """The list price's `fields`, under the config's prices for the model's family, under
    the config's prices for that exact name."""
    merged = {f: getattr(listed, f) for f in fields if getattr(listed, f, None) is not None}
    overrides = pricing.models if pricing is not None else {}
    for name in reversed(_names(model)):  # the general name first, the exact one wins
        override = overrides.get(name)
        if override is not None:
            given = override.model_dump(exclude_none=True)
            merged.update({f: given[f] for f in fields if f in given})
    return merged


def price_for(model: str, pricing: PricingSettings | None = None) -> ModelPrice | None:
    """The price of Realtime `model`; None when some price is nobody's to know."""
    merged = _merged(model, list_price(model), PRICE_FIELDS, pricing)
    return ModelPrice(**merged) if set(merged) == set(PRICE_FIELDS) else None


def transcription_price_for(
    model: str, pricing: PricingSettings | None = None
) -> TranscriptionPrice | None:
    """The price of transcription `model`, as far as anybody knows it (None: not at all)."""
    merged = _merged(model, list_transcription_price(model), TRANSCRIPTION_PRICE_FIELDS, pricing)
    return TranscriptionPrice(**merged) if merged else None


def price_problem(model: str, given: set[str]) -> str | None:
    """What is wrong with the config's prices `given` (snake_case names) for `model`.

    A model with a list price takes any of its own kind's prices; any other model needs a
    complete set: the six Realtime prices, or a transcription model's token prices (audio
    in, text in, text out) or its price per minute."""
    realtime_only = given - set(TRANSCRIPTION_PRICE_FIELDS)
    transcription_only = given - set(PRICE_FIELDS)
    if list_price(model) is not None:
        if transcription_only:
            return f"{model} is a Realtime model: {_camel(transcription_only)} does not apply"
        return None
    info = catalog.lookup(model)
    kind = info.kind if info is not None else None
    if list_transcription_price(model) is not None or kind == "transcription":
        if realtime_only:
            return (
                f"{model} is a transcription model: {_camel(realtime_only)} does not apply"
                " (it takes audioIn, textIn, textOut or perMinute)"
            )
        if list_transcription_price(model) is not None or _complete_transcription(given):
            return None
        return f"{model} has no list price: give audioIn, textIn and textOut, or perMinute"
    if given == set(PRICE_FIELDS):
        return None
    missing = _camel([f for f in PRICE_FIELDS if f not in given])
    if kind == "realtime":  # known to be a Realtime model: a transcription price is no use
        return f"{model} has no list price, so every price must be given (missing: {missing})"
    if not realtime_only and _complete_transcription(given):
        return None
    return (
        f"{model} has no list price, so every price must be given (missing: {missing};"
        " or, for a transcription model: audioIn, textIn and textOut, or perMinute)"
    )


def _complete_transcription(given: set[str]) -> bool:
    return "per_minute" in given or set(_TOKEN_FIELDS) <= given


def _camel(names: Any) -> str:
    ordered = [f for f in (*PRICE_FIELDS, "per_minute") if f in set(names)]
    return ", ".join(
        f.split("_")[0] + "".join(w.title() for w in f.split("_")[1:]) for f in ordered
    )


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
