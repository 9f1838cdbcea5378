"""`GET /metrics`: the server's figures in Prometheus' text format.

Like every route outside `/voice/`, it needs the local API's bearer token (Prometheus
sends one with `authorization: {type: Bearer, credentials_file: <data dir>/api-token}` in
its scrape config). Each `Server` has its own registry: nothing is process-global.

Nothing here runs per audio frame. Frame counts are read at scrape time from the live
bridges' own counters, plus the totals that ended calls journaled in their `end` event;
everything else is counted from journal entries as they are published (a Hub listener).

- `voicecall_active_calls` (gauge): calls not settled yet.
- `voicecall_calls_total{status}`: calls settled, by final status.
- `voicecall_frames_relayed_total{direction}`: audio frames relayed, `caller_to_model`
  (carrier media → input_audio_buffer.append) and `model_to_caller` (audio delta → media).
- `voicecall_frames_dropped_total`: audio frames that could not be relayed.
- `voicecall_turn_latency_seconds` (histogram): the callee stops speaking → the first
  model audio of the reply (the `turn.latency` events).
- `voicecall_model_renewals_total{cause}`: model sessions renewed under a live call:
  `lost` (the socket went away), `expired` (the session hit its maximum duration) or
  `ahead` (replaced before its end, at a quiet moment).
- `voicecall_model_renewal_gap_seconds` (histogram): how long caller audio waited for the
  new session (0 for a renewal ahead of time).
- `voicecall_errors_total{kind}`: error events by kind (`model.error`, `model.failed`,
  `model.refused`, `model.fatal`, `model.response_failed`, `model.renew_failed`,
  `model.retry`, `tool.error`, `hangup.failed`, any other `*.error`/`*.failed`), and
  `bad_frame`: malformed frames from either socket.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterator
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from voicecall_rt.call.journal import Hub
from voicecall_rt.call.manager import CallManager

TURN_LATENCY_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
RENEWAL_GAP_BUCKETS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0, 10.0)
ERROR_EVENTS = frozenset(
    {
        "model.error",
        "model.failed",
        "model.refused",
        "model.fatal",
        "model.response_failed",
        "model.renew_failed",
        "model.retry",
        "tool.error",
    }
)
BAD_FRAME = "bad_frame"


def is_error(kind: str) -> bool:
    # model.bad_event is a bad frame from the model: counted with bad_frame already.
    return kind in ERROR_EVENTS or (
        kind.endswith((".error", ".failed")) and kind != "model.bad_event"
    )


class CallMetrics:
    """One server's metrics; `hub.listen(metrics.observe)` feeds it."""

    def __init__(self, manager: CallManager) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.manager = manager
        self.calls = Counter(
            "voicecall_calls",
            "Calls settled, by final status.",
            ["status"],
            registry=self.registry,
        )
        self.turn_latency = Histogram(
            "voicecall_turn_latency_seconds",
            "Callee stops speaking -> first model audio of the reply.",
            buckets=TURN_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.renewals = Counter(
            "voicecall_model_renewals",
            "Model sessions renewed under a live call, by cause.",
            ["cause"],
            registry=self.registry,
        )
        self.renewal_gap = Histogram(
            "voicecall_model_renewal_gap_seconds",
            "How long caller audio waited for a renewed model session.",
            buckets=RENEWAL_GAP_BUCKETS,
            registry=self.registry,
        )
        # Totals journaled by bridges that have ended; live ones are read at scrape time.
        self.ended_frames_in = 0
        self.ended_frames_out = 0
        self.ended_dropped = 0
        self.ended_bad = 0
        self.errors: Tally[str] = Tally()
        self.registry.register(_LiveCollector(self))

    def observe(self, entry: dict[str, Any]) -> None:
        """A journal entry was published (Hub listener: quick, never raises)."""
        kind = entry.get("kind")
        if not isinstance(kind, str) or kind == "transcript":
            return
        data = entry.get("data")
        if not isinstance(data, dict):
            return
        if kind == "turn.latency":
            ms = data.get("ms")
            if isinstance(ms, int | float):
                self.turn_latency.observe(ms / 1000)
        elif kind == "end":
            self.ended_frames_in += _count(data, "frames_in")
            self.ended_frames_out += _count(data, "frames_out")
            self.ended_dropped += _count(data, "dropped_frames")
            self.ended_bad += _count(data, "bad_frames")
        elif kind == "model.renewed":
            self.renewals.labels(cause=str(data.get("cause", "unknown"))).inc()
            gap = data.get("gap_ms")
            self.renewal_gap.observe(gap / 1000 if isinstance(gap, int | float) else 0.0)
        elif kind == "settled":
            self.calls.labels(status=str(data.get("status", "unknown"))).inc()
        elif is_error(kind):
            self.errors[kind] += 1

    def attach(self, hub: Hub) -> None:
        hub.listen(self.observe)

    def detach(self, hub: Hub) -> None:
        hub.unlisten(self.observe)


def _count(data: dict[str, Any], key: str) -> int:
    value = data.get(key)
    return value if isinstance(value, int) and value > 0 else 0


class _LiveCollector(Collector):
    """Figures read at scrape time: the live bridges' counters plus the ended totals."""

    def __init__(self, metrics: CallMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        m = self._metrics
        frames_in, frames_out = m.ended_frames_in, m.ended_frames_out
        dropped, bad = m.ended_dropped, m.ended_bad
        # A bridge's `end` event is journaled in the same step that marks it ended, so a
        # call is counted either here or in the totals, never both, never neither.
        for bridge in m.manager.bridges():
            if not bridge.ended:
                counts = bridge.counters
                frames_in += counts[0]
                frames_out += counts[1]
                dropped += counts[2]
                bad += counts[3]
        yield GaugeMetricFamily(
            "voicecall_active_calls", "Calls not settled yet.", value=m.manager.active_count
        )
        relayed = CounterMetricFamily(
            "voicecall_frames_relayed", "Audio frames relayed, by direction.", labels=["direction"]
        )
        relayed.add_metric(["caller_to_model"], frames_in)
        relayed.add_metric(["model_to_caller"], frames_out)
        yield relayed
        yield CounterMetricFamily(
            "voicecall_frames_dropped", "Audio frames that could not be relayed.", value=dropped
        )
        errors = CounterMetricFamily("voicecall_errors", "Errors, by kind.", labels=["kind"])
        errors.add_metric([BAD_FRAME], bad)
        for kind, count in sorted(m.errors.items()):
            errors.add_metric([kind], count)
        yield errors


METRICS = web.AppKey("metrics", CallMetrics)


async def metrics(request: web.Request) -> web.Response:
    """The Prometheus exposition (text format, or OpenMetrics when the scraper asks)."""
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    body = encoder(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": content_type})


def setup(app: web.Application, metrics_: CallMetrics) -> None:
    app[METRICS] = metrics_
    app.router.add_get("/metrics", metrics, allow_head=False)
