"""What things cost: OpenAI's list prices per model, the carriers' list rates per minute,
the config's overrides over them (`pricing.models`, `pricing.carrierPerMinute`), and what
is wrong with a config's prices.

Prices are in USD: per million tokens, or per minute of audio for the transcription models
billed by duration. The built-in tables hold OpenAI's *list* prices as documented when this
was written (each entry names its source); they are not fetched and must be checked
against the current price page — `pricing.models.<name>` in the config overrides any of
them, and adds models the tables do not know. A model with no price has none here (None),
never a made-up zero. What a call cost at these prices is pricing.py's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from voicecall_rt.model import catalog

if TYPE_CHECKING:
    from voicecall_rt.config import PricingSettings

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
