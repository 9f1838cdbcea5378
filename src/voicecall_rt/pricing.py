"""What a call cost: model tokens from `response.done` usage, plus carrier minutes.

Prices are per million tokens, in USD. The built-in table holds OpenAI's *list* prices as
documented when this was written (PROTOCOLS §1.9); they are not fetched and must be
checked against the current price page — `pricing.models.<name>` in the config overrides
any of them, and adds models the table does not know. A model with no price gives an
unknown model cost (None), never a made-up zero.

The cost is computed when a call is shown, from the usage and times stored with it, at
the prices configured now.

Cost of the usage (PROTOCOLS §1.6): uncached text in, cached text in, uncached audio in,
cached audio in, text out and audio out, each times its price. The carrier bills every
started minute from answer to hang-up at `pricing.carrierPerMinute` (default: Twilio's US
outbound list rate, 0.014 USD); a call never answered costs no carrier minutes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from voicecall_rt.call.records import CallRecord
    from voicecall_rt.config import PricingSettings, Settings

PER_TOKENS = 1_000_000
DEFAULT_CARRIER_PER_MINUTE = 0.014
_DATED_SNAPSHOT = re.compile(r"-\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """USD per million tokens."""

    text_in: float
    cached_text_in: float
    text_out: float
    audio_in: float
    cached_audio_in: float
    audio_out: float


# List prices (verify before relying on them; override in the config).
LIST_PRICES: Mapping[str, ModelPrice] = {
    "gpt-realtime": ModelPrice(
        text_in=4.0,
        cached_text_in=0.40,
        text_out=16.0,
        audio_in=32.0,
        cached_audio_in=0.40,
        audio_out=64.0,
    ),
    "gpt-realtime-mini": ModelPrice(
        text_in=0.60,
        cached_text_in=0.06,
        text_out=2.40,
        audio_in=10.0,
        cached_audio_in=0.30,
        audio_out=20.0,
    ),
}
PRICE_FIELDS: tuple[str, ...] = tuple(ModelPrice.__dataclass_fields__)


def _names(model: str) -> list[str]:
    """`model`, then the model a dated snapshot (`gpt-realtime-2025-08-28`) belongs to."""
    base = _DATED_SNAPSHOT.sub("", model)
    return [model] if base == model else [model, base]


def list_price(model: str) -> ModelPrice | None:
    for name in _names(model):
        if name in LIST_PRICES:
            return LIST_PRICES[name]
    return None


def price_for(model: str, pricing: PricingSettings | None = None) -> ModelPrice | None:
    """The price of `model`: the list price, under the config's prices for its model, under
    the config's prices for that exact name. None when some price is nobody's to know."""
    listed = list_price(model)
    merged: dict[str, float] = _as_dict(listed) if listed is not None else {}
    overrides = pricing.models if pricing is not None else {}
    for name in reversed(_names(model)):  # the general name first, the exact one wins
        override = overrides.get(name)
        if override is not None:
            merged.update(override.model_dump(exclude_none=True))
    if set(merged) != set(PRICE_FIELDS):
        return None
    return ModelPrice(**merged)


def _as_dict(price: ModelPrice) -> dict[str, float]:
    return {name: getattr(price, name) for name in PRICE_FIELDS}


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


def billed_minutes(talk_ms: int | None) -> int:
    """Carrier minutes: every started minute of the answered call."""
    if talk_ms is None or talk_ms <= 0:
        return 0
    return -(-talk_ms // 60_000)


class CallCost(BaseModel):
    """A call's cost in USD. `model_usd`/`total_usd` are None when the model is unpriced."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model_usd: float | None
    carrier_usd: float
    total_usd: float | None
    currency: Literal["USD"] = "USD"
    model: str = Field(description="the model the tokens were priced as")
    carrier_minutes: int = Field(description="started minutes from answer to hang-up")
    priced: bool = Field(description="whether a price is known for the model")


def cost(
    usage: Mapping[str, Any] | None,
    talk_ms: int | None,
    model: str,
    pricing: PricingSettings | None = None,
) -> CallCost:
    """The cost of `usage` (as the bridge accumulates it) and `talk_ms` answered milliseconds.

    The model recorded in the usage wins over `model` (the configured one)."""
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
    per_minute = pricing.carrier_per_minute if pricing is not None else DEFAULT_CARRIER_PER_MINUTE
    minutes = billed_minutes(talk_ms)
    carrier_usd = minutes * per_minute
    total = None if model_usd is None else model_usd + carrier_usd
    return CallCost(
        model_usd=None if model_usd is None else round(model_usd, 6),
        carrier_usd=round(carrier_usd, 6),
        total_usd=None if total is None else round(total, 6),
        model=model,
        carrier_minutes=minutes,
        priced=price is not None,
    )


def call_cost(record: CallRecord, settings: Settings) -> CallCost:
    """The cost of a stored call (a live one: so far), at the configured prices.

    The model is the one recorded with the call's usage, else the configured one."""
    duration = record.duration_s
    talk_ms = None if duration is None else round(duration * 1000)
    return cost(record.usage, talk_ms, settings.openai.model, settings.pricing)


def format_usd(value: float | None) -> str:
    if value is None:
        return "?"
    return f"${value:.4f}" if value < 1 else f"${value:.2f}"


def describe_cost(cost: Mapping[str, Any] | None) -> str:
    """One line for people: `$0.0512 (model $0.0372, carrier $0.0140 for 1 min)`."""
    if not cost:
        return "-"
    minutes = cost.get("carrier_minutes", 0)
    carrier = f"carrier {format_usd(cost.get('carrier_usd'))} for {minutes} min"
    if cost.get("total_usd") is None:
        return f"unknown (no price for model {cost.get('model')!r}; {carrier})"
    return f"{format_usd(cost['total_usd'])} (model {format_usd(cost.get('model_usd'))}, {carrier})"
