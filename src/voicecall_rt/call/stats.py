"""A call's latency figures, from the events its journal stored (one place for the CLI,
the API and the dashboard), and the bridge's sampler of its own per-frame cost.

Events it reads (all written by the bridge; `ms` is milliseconds, `t_ms` since creation):
- `turn.latency` {ms}: the callee stopped speaking (VAD `speech_stopped`) → the first
  model audio delta of the reply;
- `latency.answer_to_stream` {ms}: the answer webhook → the carrier's media stream start;
- `latency.stream_to_audio` {ms}: stream start → the call's first model audio delta;
- `model.ready` {connect_ms}: model connect → session configured (pre-warmed at dial);
- `latency.bridge` {caller_to_model, model_to_caller}: at call end, the summary of the
  sampled time the bridge spent forwarding one frame (µs), see `Sampler`.

Percentiles are nearest-rank: the p-th percentile of n sorted values is the value at
rank ⌈p·n/100⌉.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from voicecall_rt.call.records import CallEvent

SAMPLES_KEPT = 4096  # per direction per call: 32 KiB of ints at most


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of `values` (need not be sorted; must not be empty)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p * len(ordered) / 100))
    return ordered[rank - 1]


class Percentiles(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int = Field(description="how many values (samples) it summarises")
    p50: float
    p95: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float], count: int | None = None) -> Percentiles | None:
        if not values:
            return None
        return cls(
            count=len(values) if count is None else count,
            p50=percentile(values, 50),
            p95=percentile(values, 95),
            max=max(values),
        )


class Sampler:
    """The bridge's own time per forwarded frame, for one direction, sampled.

    The bridge times one frame in N (a counter check, no clock read otherwise) and adds
    the nanoseconds here: an int append, nothing else on the hot path. Past
    `SAMPLES_KEPT` samples the oldest are overwritten; count and max cover all of them.
    """

    __slots__ = ("count", "max_ns", "samples")

    def __init__(self) -> None:
        self.samples: list[int] = []
        self.count = 0
        self.max_ns = 0

    def add(self, ns: int) -> None:
        if len(self.samples) < SAMPLES_KEPT:
            self.samples.append(ns)
        else:
            self.samples[self.count % SAMPLES_KEPT] = ns
        self.count += 1
        if ns > self.max_ns:
            self.max_ns = ns

    def summary(self) -> dict[str, Any] | None:
        """{count, p50, p95, max} in µs (0.1 µs resolution); None without samples."""
        if not self.samples:
            return None
        return {
            "count": self.count,
            "p50": round(percentile(self.samples, 50) / 1000, 1),
            "p95": round(percentile(self.samples, 95) / 1000, 1),
            "max": round(self.max_ns / 1000, 1),
        }


class TurnLatency(BaseModel):
    model_config = ConfigDict(extra="forbid")

    t_ms: int = Field(description="when the reply's first audio came, ms since creation")
    ms: int = Field(description="callee stopped speaking → first model audio, ms")


class LatencySummary(BaseModel):
    """A call's latency figures (None where the call never got that far)."""

    model_config = ConfigDict(extra="forbid")

    turns: list[TurnLatency] = Field(default_factory=list)
    turn_ms: Percentiles | None = Field(
        default=None, description="per turn: callee stops speaking → first model audio"
    )
    answer_to_stream_ms: int | None = None
    stream_to_first_audio_ms: int | None = None
    model_ready_ms: int | None = Field(
        default=None, description="model connect → session configured (pre-warm), ms"
    )
    bridge_caller_to_model_us: Percentiles | None = Field(
        default=None, description="sampled time the bridge adds per caller frame, µs"
    )
    bridge_model_to_caller_us: Percentiles | None = Field(
        default=None, description="sampled time the bridge adds per model audio delta, µs"
    )


def _ms(data: dict[str, Any], key: str = "ms") -> int | None:
    value = data.get(key)
    return int(value) if isinstance(value, int | float) else None


def _sampled(value: Any) -> Percentiles | None:
    return Percentiles.model_validate(value) if isinstance(value, dict) else None


def latency_summary(events: Iterable[CallEvent]) -> LatencySummary:
    summary = LatencySummary()
    for event in events:
        kind, data = event.kind, event.data
        if kind == "turn.latency":
            ms = _ms(data)
            if ms is not None:
                summary.turns.append(TurnLatency(t_ms=event.t_ms, ms=ms))
        elif kind == "latency.answer_to_stream" and summary.answer_to_stream_ms is None:
            summary.answer_to_stream_ms = _ms(data)
        elif kind == "latency.stream_to_audio" and summary.stream_to_first_audio_ms is None:
            summary.stream_to_first_audio_ms = _ms(data)
        elif kind == "model.ready" and summary.model_ready_ms is None:
            summary.model_ready_ms = _ms(data, "connect_ms")
        elif kind == "latency.bridge":
            summary.bridge_caller_to_model_us = _sampled(data.get("caller_to_model"))
            summary.bridge_model_to_caller_us = _sampled(data.get("model_to_caller"))
    summary.turn_ms = Percentiles.of([turn.ms for turn in summary.turns])
    return summary


def _spread(p: Mapping[str, Any] | None, unit: str) -> str | None:
    if not p:
        return None

    def fmt(value: float) -> str:
        return f"{value:g}" if unit == "µs" else f"{round(value)}"

    return f"p50 {fmt(p['p50'])} {unit}  p95 {fmt(p['p95'])} {unit}  max {fmt(p['max'])} {unit}"


def describe_latency(latency: Mapping[str, Any] | None) -> list[str]:
    """Lines for people (`calls show`), from a `LatencySummary` as JSON data."""
    if not latency:
        return []
    lines = []
    turns = _spread(latency.get("turn_ms"), "ms")
    if turns:
        count = latency["turn_ms"]["count"]
        lines.append(f"turns ({count}, end of speech → first model audio): {turns}")
    steps = [
        (label, latency.get(key))
        for label, key in (
            ("answer → stream", "answer_to_stream_ms"),
            ("stream → first model audio", "stream_to_first_audio_ms"),
            ("model session ready in", "model_ready_ms"),
        )
    ]
    said = [f"{label} {value} ms" for label, value in steps if value is not None]
    if said:
        lines.append("; ".join(said))
    for label, key in (
        ("bridge per caller frame", "bridge_caller_to_model_us"),
        ("bridge per model frame", "bridge_model_to_caller_us"),
    ):
        spread = _spread(latency.get(key), "µs")
        if spread:
            lines.append(f"{label}: {spread} ({latency[key]['count']} sampled)")
    return lines
