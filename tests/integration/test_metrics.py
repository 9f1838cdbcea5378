"""`GET /metrics`, a call's latency figures and its cost, after a whole simulated call.

Every figure is recomputed here from what the call really produced: its stored events,
the fake model's own record of the usage it sent, the stored answer and end times.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers.cli import cli, world_config
from tests.helpers.world import MakeWorld
from voicecall_rt import prices
from voicecall_rt.simulator.scenarios import pizza_booking
from voicecall_rt.simulator.world import SimWorld

# gpt-realtime-2.1 list prices, USD per 1M tokens (README, "Models"), gpt-transcribe's per
# minute of audio, and each carrier's per minute (its voice minute plus its media stream's).
PRICE = {
    "text_in": 4.0,
    "cached_text_in": 0.40,
    "text_out": 24.0,
    "audio_in": 32.0,
    "cached_audio_in": 0.40,
    "audio_out": 64.0,
}
TRANSCRIBE_PER_MINUTE = 0.0045
CARRIER_PER_MINUTE = {"twilio": 0.0184, "telnyx": 0.0105, "plivo": 0.0155, "signalwire": 0.011}


async def scrape(world: SimWorld, token: str | None) -> tuple[int, str]:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(world.server.local_url + "/metrics", headers=headers) as response,
    ):
        return response.status, await response.text()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value}, parsed by prometheus_client's own parser."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def nearest_rank(values: list[int], p: int) -> int:
    ordered = sorted(values)
    return ordered[math.ceil(p / 100 * len(ordered)) - 1]


def model_usage_sum(world: SimWorld) -> dict[str, int]:
    """What the fake model billed, from its own copies of every `response.done` it sent."""
    total = dict.fromkeys(
        ("text_in", "audio_in", "cached_text_in", "cached_audio_in", "text_out", "audio_out"), 0
    )
    for session in world.model.sessions:
        for response in session.responses:
            usage = response["usage"]
            inp, out = usage["input_token_details"], usage["output_token_details"]
            cached = inp["cached_tokens_details"]
            total["text_in"] += inp["text_tokens"]
            total["audio_in"] += inp["audio_tokens"]
            total["cached_text_in"] += cached["text_tokens"]
            total["cached_audio_in"] += cached["audio_tokens"]
            total["text_out"] += out["text_tokens"]
            total["audio_out"] += out["audio_tokens"]
    return total


def transcribed_seconds(world: SimWorld) -> float:
    """The audio the fake model's transcription billed, from the usage it sent."""
    return float(
        sum(
            event["usage"]["seconds"]
            for session in world.model.sessions
            for event in session.sent
            if event["type"] == "conversation.item.input_audio_transcription.completed"
        )
    )


def expected_cost(world: SimWorld, call: dict[str, Any], carrier: str) -> tuple[float, float]:
    used = model_usage_sum(world)
    model_usd = (
        (used["text_in"] - used["cached_text_in"]) * PRICE["text_in"]
        + used["cached_text_in"] * PRICE["cached_text_in"]
        + (used["audio_in"] - used["cached_audio_in"]) * PRICE["audio_in"]
        + used["cached_audio_in"] * PRICE["cached_audio_in"]
        + used["text_out"] * PRICE["text_out"]
        + used["audio_out"] * PRICE["audio_out"]
    ) / 1_000_000
    talk_ms = call["ended_at"] - call["answered_at"]
    carrier_usd = math.ceil(talk_ms / 60_000) * CARRIER_PER_MINUTE[carrier]
    return model_usd, carrier_usd


async def test_metrics_latency_and_cost_after_a_call(
    make_world: MakeWorld, carrier: str, tmp_path: Path
) -> None:
    scenario = pizza_booking(0.3)
    world = await make_world(scenario.carrier, scenario.model)
    token = world.server.api_token

    assert (await scrape(world, None))[0] == 401
    assert (await scrape(world, "not-the-token"))[0] == 401

    call_id = await world.place(scenario.to_number, scenario.task)
    status, during = await scrape(world, token)  # the call takes seconds: it is live now
    assert status == 200
    assert samples(during)[("voicecall_active_calls", ())] == 1

    data = await world.wait_call(call_id, timeout_s=60)
    call, events = data["call"], data["events"]
    assert call["status"] == "completed"
    status, text = await scrape(world, token)
    assert status == 200
    metric = samples(text)

    # ---- /metrics ----------------------------------------------------------------------
    assert metric[("voicecall_calls_total", (("status", "completed"),))] == 1
    assert metric[("voicecall_active_calls", ())] == 0
    [end] = [e["data"] for e in events if e["kind"] == "end"]
    assert end["frames_in"] > 0 and end["frames_out"] > 0
    relayed = "voicecall_frames_relayed_total"
    assert metric[(relayed, (("direction", "caller_to_model"),))] == end["frames_in"]
    assert metric[(relayed, (("direction", "model_to_caller"),))] == end["frames_out"]
    assert metric[("voicecall_frames_dropped_total", ())] == end["dropped_frames"]
    assert metric[("voicecall_errors_total", (("kind", "bad_frame"),))] == end["bad_frames"]
    turns = [e["data"]["ms"] for e in events if e["kind"] == "turn.latency"]
    assert len(turns) >= 3
    assert metric[("voicecall_turn_latency_seconds_count", ())] == len(turns)
    assert metric[("voicecall_turn_latency_seconds_sum", ())] == pytest.approx(sum(turns) / 1000)
    assert metric[("voicecall_turn_latency_seconds_bucket", (("le", "+Inf"),))] == len(turns)

    # ---- latency (API) -----------------------------------------------------------------
    latency = data["latency"]
    assert [t["ms"] for t in latency["turns"]] == turns
    assert latency["turn_ms"] == {
        "count": len(turns),
        "p50": nearest_rank(turns, 50),
        "p95": nearest_rank(turns, 95),
        "max": max(turns),
    }
    at = {e["kind"]: e["t_ms"] for e in reversed(events)}  # the first of each kind
    # answer webhook → stream start, and stream start → the first model audio, each within
    # the millisecond the bridge read its clock apart from the journal's entry
    assert abs(latency["answer_to_stream_ms"] - (at["stream.start"] - at["answered"])) <= 2
    first_audio = min(at.get("turn.latency", 1 << 62), at.get("model.first_audio", 1 << 62))
    assert abs(latency["stream_to_first_audio_ms"] - (first_audio - at["stream.start"])) <= 2
    [ready] = [e["data"]["connect_ms"] for e in events if e["kind"] == "model.ready"]
    assert latency["model_ready_ms"] == ready
    # the bridge's own time per frame: one caller frame in 128 is timed
    caller = latency["bridge_caller_to_model_us"]
    assert 1 <= caller["count"] <= end["frames_in"] // 128
    assert 0 < caller["p50"] <= caller["p95"] <= caller["max"]
    model_side = latency["bridge_model_to_caller_us"]
    if model_side is not None:  # one delta in 16: there may be too few deltas
        assert 1 <= model_side["count"] <= end["frames_out"] // 16

    # ---- cost (API) ----------------------------------------------------------------------
    model_usd, carrier_usd = expected_cost(world, call, carrier)
    # By hand above, and the built-in rates (pricing.carrierPerMinute unset) agree.
    assert CARRIER_PER_MINUTE == prices.CARRIER_PER_MINUTE
    cost = call["cost"]
    assert cost["model"] == "gpt-realtime-2.1" and cost["priced"]
    assert cost["model_usd"] == pytest.approx(model_usd, abs=1e-6)
    assert cost["carrier_usd"] == pytest.approx(carrier_usd, abs=1e-6)
    transcription_usd = transcribed_seconds(world) / 60 * TRANSCRIBE_PER_MINUTE
    assert cost["transcription_model"] == "gpt-transcribe"
    assert cost["transcription_usd"] == pytest.approx(transcription_usd, abs=1e-6)
    assert cost["total_usd"] == pytest.approx(model_usd + transcription_usd + carrier_usd, abs=1e-6)
    assert model_usd > 0 and transcription_usd > 0

    # ---- the CLI shows the same figures ---------------------------------------------------
    config = world_config(world, tmp_path)
    code, out, err = await cli("calls", "show", call_id, config=config)
    assert code == 0, err
    [turn_line] = [line for line in out.splitlines() if "turns (" in line]
    p50, p95 = latency["turn_ms"]["p50"], latency["turn_ms"]["p95"]
    assert f"p50 {round(p50)} ms" in turn_line and f"p95 {round(p95)} ms" in turn_line
    [bridge_line] = [line for line in out.splitlines() if "bridge per caller frame" in line]
    assert f"p50 {caller['p50']:g} µs" in bridge_line
    assert f"p95 {caller['p95']:g} µs" in bridge_line
    total = f"${cost['total_usd']:.4f}"
    assert any(line.startswith("cost: " + total) for line in out.splitlines())
    code, out, err = await cli("calls", "list", config=config)
    assert code == 0, err
    assert total in next(line for line in out.splitlines() if call_id in line)
