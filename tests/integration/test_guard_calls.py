"""The guards inside a live call (docs/business.md §Guards): a callee who asks not to be called
again is recorded by the model's mark_do_not_call and refused next time (on both stores), and
a call whose running cost reaches limits.perCallSpendUsd says goodbye and hangs up."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.cli import cli, one_line, world_config
from tests.helpers.phone import TO, assert_goodbye_played, system_notes
from tests.helpers.world import MakeWorld
from tests.helpers.world_carrier import twilio_of
from voicecall_rt.call.spend_limit import SPEND_REASON
from voicecall_rt.phone import mask_number
from voicecall_rt.simulator.scenario import CallPlan, CallTool, ModelScript, Pause, Say, Speak
from voicecall_rt.store.blocklist import DO_NOT_CALL, list_blocked

TASK = "Offer the winter discount on the gym membership."
STOP = "Please don't call me again."
SORRY = "Understood, we will not call you again."
BYE = "Goodbye."
ASKED = "asked not to be called again"
DO_NOT_CALL_PLAN = CallPlan(ring_ms=100, callee=(Speak(STOP, 400),))
DO_NOT_CALL_SCRIPT = ModelScript(
    turns=(
        (Say(SORRY, 400), CallTool("mark_do_not_call", {"reason": ASKED})),
        (Say(BYE, 300), CallTool("end_call", {"reason": "asked"})),
    ),
    caller_transcripts=(STOP,),
)


@pytest.fixture(params=["sqlite", "postgres"])
def store_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The world's store: SQLite in its data dir, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return {}
    return {"store.url": request.getfixturevalue("pg_url")}


async def test_do_not_call_is_recorded_and_the_next_call_refused(
    make_world: MakeWorld, store_settings: dict[str, Any], tmp_path: Path
) -> None:
    world = await make_world(DO_NOT_CALL_PLAN, DO_NOT_CALL_SCRIPT, **store_settings)
    call_id = await world.place(TO, TASK)
    data = await world.wait_call(call_id)
    assert data["call"]["end_reason"] == "model-ended"
    marked = [e["data"] for e in data["events"] if e["kind"] == "do-not-call"]
    assert marked == [{"number": mask_number(TO), "reason": ASKED}]

    blocked = await list_blocked(world.server.store)
    assert [(b.number, b.source, b.reason, b.call_id) for b in blocked] == [
        (TO, DO_NOT_CALL, ASKED, call_id)
    ]
    # The model heard it was recorded.
    outputs = [
        e for e in world.model.last_session.received if e["type"] == "conversation.item.create"
    ]
    assert any('"recorded"' in str(e["item"].get("output", "")) for e in outputs), outputs

    status, body = await world.api("POST", "/api/calls", {"to": TO, "task": TASK})
    assert status == 403 and body["error"]["code"] == "blocked-number"
    assert body["error"]["message"].startswith(
        f"{TO} asked not to be called again on call {call_id}"
    )
    assert len(twilio_of(world).created) == 1  # the first call only

    # `calls show` names it (through the running server: the store is the world's, either).
    config = world_config(world, tmp_path)
    code, out, err = await cli("calls", "show", call_id, "--follow", config=config)
    assert code == 0, err
    assert f"guard: mark_do_not_call: {mask_number(TO)} is not to be called again ({ASKED})" in out

    # `calls blocked` lists it from the store, `calls unblock` lifts it.
    if "store.url" in store_settings:
        with config.open("a", encoding="utf-8") as toml:
            toml.write(f'\n[store]\nurl = "{store_settings["store.url"]}"\n')
    code, out, err = await cli("calls", "blocked", "--json", config=config)
    assert code == 0, err
    assert [(row["number"], row["source"], row["call_id"]) for row in json.loads(out)] == [
        (TO, DO_NOT_CALL, call_id)
    ]
    code, out, err = await cli("calls", "unblock", TO, config=config)
    assert (code, out.strip()) == (0, f"{TO} may be called again."), err
    assert await list_blocked(world.server.store) == []
    code, _, err = await cli("calls", "unblock", TO, config=config)
    assert code == 1 and one_line(err) == f"error: {TO} is not blocked"


HELLO = "Hello, Maria speaking."
HI = "Hi Maria, I'm an AI assistant calling about your membership."
GOODBYE = "I'm sorry, I have to end the call now. Goodbye!"
# Maria says hello, hears the model, then stays on the line: the call would go on.
STAYS_PLAN = CallPlan(ring_ms=100, callee=(Speak(HELLO, 400), Pause(60_000)))
GOODBYE_SCRIPT = ModelScript(
    turns=((Say(HI, 500),), (Say(GOODBYE, 600),)), caller_transcripts=(HELLO,)
)


async def test_a_call_that_reaches_its_spend_limit_says_goodbye_and_hangs_up(
    make_world: MakeWorld,
) -> None:
    # Carrier minutes free, so the model's first response (its usage: the instructions, the
    # tools and its words, well over $0.001) is what crosses the limit.
    world = await make_world(
        STAYS_PLAN,
        GOODBYE_SCRIPT,
        **{"pricing.carrierPerMinute": 0, "limits.perCallSpendUsd": 0.001},
    )
    call_id = await world.place(TO, TASK)
    sim = await world.carrier.wait_call()
    data = await world.wait_call(call_id)

    record = data["call"]
    assert record["status"] == "completed"
    assert record["end_reason"] == SPEND_REASON
    assert_goodbye_played(data, sim, [HI, GOODBYE])
    reached = [e["data"] for e in data["events"] if e["kind"] == "spend.limit"]
    assert len(reached) == 1
    assert reached[0]["limit_usd"] == 0.001 and reached[0]["spent_usd"] >= 0.001
    notes = [note for _, note in system_notes(world.model.last_session)]
    assert any("spending limit" in note for note in notes), notes
    # The cost the API shows is at least what the limit stopped.
    assert record["cost"]["total_usd"] >= reached[0]["spent_usd"]
