"""Whole calls on the fake Plivo (`SimWorld(carrier="plivo")`): the pizzeria call, an
inbound call, a barge-in whose cleared checkpoints Plivo never answers, a forged webhook."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.plivo_world import plivo_world
from voicecall_rt.simulator.scenarios import pizza_booking

pytestmark = pytest.mark.slow  # whole calls in real time


async def test_pizzeria_call_completes_on_plivo(tmp_path: Path) -> None:
    scenario = pizza_booking(scale=0.3)
    async with plivo_world(scenario.carrier, scenario.model, tmp_path) as (world, fake):
        call_id = await world.place(scenario.to_number, scenario.task)
        sim = await fake.wait_call()
        data = await world.wait_call(call_id)
    record = data["call"]
    assert record["status"] == "completed"
    assert record["end_reason"] == "model-ended"
    assert record["outcome"]["success"] is True
    assert record["outcome"]["details"]["confirmation"] == "4472"
    lines = data["transcript"]
    roles = [line["role"] for line in lines]
    assert roles.count("caller") == 5 and roles.count("assistant") == 5
    assert [line["text"] for line in lines if line["role"] == "system"] == ["pressed 1"]
    assert [e["kind"] for e in data["events"]].count("barge_in") == 1
    # The hang-up named the CallUUID learnt from the answer, not the dial's request uuid.
    assert record["carrier_sid"] == sim.sid != fake.request_uuid(sim)
    assert sim.protocol_errors == [] and sim.errors == []
