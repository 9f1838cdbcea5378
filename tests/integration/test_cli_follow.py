"""`voicecall-rt call --follow`: the call shown live, then its outcome."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.cli import cli, world_config
from tests.helpers.world import MakeWorld
from tests.helpers.world_carrier import twilio_of
from voicecall_rt.simulator.scenarios import pizza_booking


async def test_follow_shows_the_call_live_and_its_outcome(
    make_world: MakeWorld, tmp_path: Path
) -> None:
    scenario = pizza_booking(scale=0.3)
    world = await make_world(scenario.carrier, scenario.model)
    code, out, err = await cli(
        "call",
        "-n",
        scenario.to_number,
        "-t",
        scenario.task,
        "--follow",
        config=world_config(world, tmp_path),
    )
    assert code == 0, err
    # What the model did, in the order it happened, then the outcome panel. The caller's
    # words are printed when transcribed, which is often after the model began its reply
    # (real transcription is asynchronous), each with the time it was said.
    order = [
        "pressed 1",
        "(interrupted)",
        "Four people, at 7 pm",
        "report_outcome",
        "Have a lovely evening",
        "call outcome",
        "4472",
    ]
    positions = [out.find(text) for text in order]
    assert all(p >= 0 for p in positions), list(zip(order, positions, strict=True))
    assert positions == sorted(positions), list(zip(order, positions, strict=True))
    assert "completed (model-ended)" in out
    said = [
        (float(line.split()[0].removesuffix("s")), line.split(None, 2)[2])
        for line in out.splitlines()
        if len(line.split()) > 2 and line.split()[1] == "callee"
    ]
    caller = [(t, text) for t, text in said if text.startswith(("Thanks for", "Reservations"))]
    assert len(caller) == 2
    # Dated when said: the IVR's greeting before the person who picked up after it.
    assert caller[0][0] < caller[1][0]


async def test_follow_and_json_do_not_mix(make_world: MakeWorld, tmp_path: Path) -> None:
    scenario = pizza_booking(scale=0.3)
    world = await make_world(scenario.carrier, scenario.model)
    code, _, err = await cli(
        "call",
        "-n",
        scenario.to_number,
        "-t",
        "x",
        "--follow",
        "--json",
        config=world_config(world, tmp_path),
    )
    assert code != 0 and "--wait --json" in err
    assert twilio_of(world).created == []  # refused before anything was dialled


async def test_calls_show_follows_a_live_call_then_shows_an_ended_one(
    make_world: MakeWorld, tmp_path: Path
) -> None:
    scenario = pizza_booking(scale=0.3)
    world = await make_world(scenario.carrier, scenario.model)
    config = world_config(world, tmp_path)
    call_id = await world.place(scenario.to_number, scenario.task)
    code, out, err = await cli("calls", "show", call_id, "--follow", config=config)
    assert code == 0, err
    for text in ("pressed 1", "Four people, at 7 pm", "report_outcome", "call outcome", "4472"):
        assert text in out, text
    # Over already: shown as it ended, at once.
    code, again, err = await cli("calls", "show", call_id, "--follow", config=config)
    assert code == 0, err
    assert "status: completed  reason: model-ended" in again and "4472" in again
    code, _, err = await cli("calls", "show", call_id, "--follow", "--json", config=config)
    assert code != 0 and "--wait --json" in err
