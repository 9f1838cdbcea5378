"""A transfer on Telnyx after the handover: Telnyx leaves the caller's leg up when the
person dialled (leg B) never answers, and may leave it up after they hang up, so our server
hangs the caller's line up itself on leg B's `call.hangup` and journals how the transfer
ended; a `call.hangup` whose state names no call we handed over does nothing
(docs/business.md §Transfer to a person, docs/protocols.md §6)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import aiohttp
import pytest

from tests.helpers.carrier_hooks import Hook
from tests.helpers.carrier_inputs import INPUTS, post
from tests.helpers.phone import TO
from tests.helpers.polling import eventually
from tests.helpers.telnyx_world import telnyx_world
from voicecall_rt.carrier.telnyx.wire import read_transfer_state, transfer_state
from voicecall_rt.simulator import scenario as sc
from voicecall_rt.simulator.sim_call import SimCall
from voicecall_rt.simulator.telnyx.carrier import FakeTelnyx
from voicecall_rt.simulator.telnyx.transfer_leg import TransferLegPlan
from voicecall_rt.simulator.telnyx.webhooks import event_body
from voicecall_rt.simulator.world import PUBLIC_URL, SimWorld

pytestmark = pytest.mark.slow  # real-time whole calls

FRONT_DESK = "+14155550142"
TARGETS = {"calls.transfer.targets": [{"label": "front desk", "number": FRONT_DESK}]}
TASK = "Ask the clinic to move Sam's appointment; if they want a person, transfer them."
ASKS = sc.Speak("Can I talk to a person at the front desk?", 400)
PLAN = sc.CallPlan(ring_ms=100, callee=(ASKS, sc.WaitForModel(quiet_ms=300)))
TRANSFERS = sc.CallTool("transfer_call", {"target": "front desk", "reason": "asked for a person"})
SCRIPT = sc.ModelScript(
    turns=((sc.Say("Of course, I'm transferring you now.", 600), TRANSFERS),),
    caller_transcripts=sc.callee_lines(PLAN),
)


def _events(data: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["data"] for e in data["events"] if e["kind"] == kind]


def _leg_b(fake: FakeTelnyx) -> SimCall:
    [leg] = [call for call in fake.calls.values() if call.to == FRONT_DESK]
    return leg


def _hang_ups(fake: FakeTelnyx, sid: str) -> int:
    """Our server's hang-up requests naming `sid`, answered or refused (90018)."""
    return sum(1 for a, body in fake.requests if a == "hangup" and body["call_control_id"] == sid)


async def _transfer(world: SimWorld, fake: FakeTelnyx) -> tuple[str, SimCall]:
    """Place the call; return once it is settled as handed over (leg B dialled)."""
    call_id = await world.place(TO, TASK)
    caller = await fake.wait_call()
    data = await world.wait_call(call_id)
    assert data["call"]["end_reason"] == "transferred"
    return call_id, caller


async def _journaled(world: SimWorld, call_id: str, kind: str) -> dict[str, Any]:
    """The call once `kind` is in its events (our server writes it after the hang-up)."""
    found: dict[str, Any] = {}

    async def check() -> bool:
        found.update(await world.wait_call(call_id))
        return bool(_events(found, kind))

    await eventually(check, 10.0, f"a {kind} event")
    return found


@pytest.mark.parametrize(
    ("fate", "cause"),
    [("busy", "user_busy"), ("no-answer", "timeout"), ("failed", "call_rejected")],
)
async def test_a_person_who_never_answers_leaves_no_caller_on_a_silent_line(
    tmp_path: Path, fate: Literal["busy", "no-answer", "failed"], cause: str
) -> None:
    async with telnyx_world(PLAN, SCRIPT, tmp_path, **TARGETS) as (world, fake):
        fake.transfer_plans[FRONT_DESK] = TransferLegPlan(fate, ring_ms=300)
        call_id, caller = await _transfer(world, fake)
        # Telnyx says the transfer could not be completed and leaves the caller's leg up:
        # only our REST hang-up ends it, long before its 4-hour limit.
        await caller.wait_for(lambda: caller.is_final, timeout=10)
        assert caller.rest_hang_ups == ["completed"]
        data = await _journaled(world, call_id, "transfer.failed")

    leg = _leg_b(fake)
    assert leg.status == fate and not leg.answered
    assert fake.legs[leg.sid].hangup_cause == cause
    assert [w.params["event_type"] for w in leg.webhooks] == ["call.initiated", "call.hangup"]
    assert all(w.status == 204 for w in leg.webhooks)  # signed, read, answered
    # Both legs carry the state naming our call; the transfer event is kept.
    [(_, body)] = [(a, b) for a, b in fake.requests if a == "transfer"]
    assert read_transfer_state(body["target_leg_client_state"]) == call_id
    assert read_transfer_state(body["client_state"]) == call_id
    assert fake.legs[leg.sid].client_state == body["target_leg_client_state"]
    record = data["call"]
    assert record["status"] == "completed" and record["end_reason"] == "transfer-failed"
    # The model reported nothing: our "Transferred to" success is undone.
    assert record["outcome"] == {
        "success": False,
        "summary": f"Transfer to front desk failed ({cause})",
        "details": {},
    }
    assert _events(data, "transfer.failed") == [{"cause": cause, "target": "front desk"}]
    assert [e["target"] for e in _events(data, "transfer")] == ["front desk"]
    assert _events(data, "transfer.ended") == []


@pytest.mark.parametrize("telnyx_hangs_up", [True, False])
async def test_when_the_person_hangs_up_the_caller_is_hung_up_too(
    tmp_path: Path, telnyx_hangs_up: bool
) -> None:
    """By default Telnyx hangs the caller's leg up once the bridge ends
    (`park_after_unbridge` unset); if it did not, our hang-up is what ends it."""
    async with telnyx_world(PLAN, SCRIPT, tmp_path, **TARGETS) as (world, fake):
        fake.keep_caller_after_transfer = not telnyx_hangs_up
        fake.transfer_plans[FRONT_DESK] = TransferLegPlan("answer", ring_ms=200, talk_ms=400)
        call_id, caller = await _transfer(world, fake)
        await caller.wait_for(lambda: caller.is_final, timeout=10)
        data = await _journaled(world, call_id, "transfer.ended")
        leg = _leg_b(fake)
        assert _hang_ups(fake, caller.sid) == 1  # asked either way: a line over is fine
        assert caller.rest_hang_ups == ([] if telnyx_hangs_up else ["completed"])

    assert leg.answered and leg.status == "completed"
    types = [w.params["event_type"] for w in leg.webhooks]
    assert types == ["call.initiated", "call.answered", "call.bridged", "call.hangup"]
    assert _hang_ups(fake, leg.sid) == 0  # leg B's answer is no call of ours to decide on
    record = data["call"]
    assert record["end_reason"] == "transferred" and record["outcome"]["transferred_to"]
    assert _events(data, "transfer.ended") == [{"cause": "normal_clearing", "target": "front desk"}]
    assert _events(data, "transfer.failed") == []


async def test_a_hangup_naming_no_call_handed_over_does_nothing(tmp_path: Path) -> None:
    """Signed `call.hangup`s (as Telnyx signs) whose state is not one we gave, or names a
    call we did not hand over: the caller's line, still bridging, is left alone."""
    async with telnyx_world(PLAN, SCRIPT, tmp_path, **TARGETS) as (world, fake):
        fake.transfer_plans[FRONT_DESK] = TransferLegPlan("answer", ring_ms=25_000)
        call_id, caller = await _transfer(world, fake)
        leg = _leg_b(fake)
        states = [
            transfer_state("call_0000000000000000"),  # well formed, no such call
            transfer_state("call_" + call_id[5:][::-1]),  # another id of the same shape
            "dmNydDE6eGZlcjouLi8uLi9ldGM=",  # vcrt1:xfer:../../etc
            "bm90IG91cnM=",  # not ours at all
        ]
        async with aiohttp.ClientSession() as http:
            for state in states:
                for sid in (leg.sid, "v3:forged-leg"):
                    payload = {
                        "call_control_id": sid,
                        "client_state": state,
                        "hangup_cause": "user_busy",
                    }
                    hook = Hook(
                        "/voice/answer", json=event_body("call.hangup", payload, PUBLIC_URL)
                    )
                    status, _ = await post(http, world, hook, INPUTS["telnyx"].sign(hook))
                    assert status == 204
        data = await world.wait_call(call_id)

        assert not caller.is_final and not leg.is_final  # the bridge rings on
        assert _hang_ups(fake, caller.sid) == _hang_ups(fake, leg.sid) == 0
        assert data["call"]["end_reason"] == "transferred"
        assert _events(data, "transfer.failed") == _events(data, "transfer.ended") == []
