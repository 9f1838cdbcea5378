"""Every carrier's webhooks, forged or repeated: its own forgeries get 403 on every webhook
URL before any work, a fake carrier signing badly gets no call, stream or progress, and
validly signed replays, strangers and retried deliveries take effect at most once."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.helpers import carrier_inputs
from tests.helpers.carrier_inputs import INPUTS
from tests.helpers.twilio_wire import call_id_for
from tests.helpers.webhook_target import GREET_ONLY, LISTEN_PLAN, OPEN, one_call
from tests.helpers.world import MakeWorld
from voicecall_rt.simulator.scenario import CallPlan
from voicecall_rt.simulator.world import FROM_NUMBER


@pytest.mark.parametrize("direction", ["inbound", "outbound"])
async def test_forged_webhooks_are_refused_on_every_carrier(
    make_world: MakeWorld, http: aiohttp.ClientSession, carrier: str, direction: str
) -> None:
    """Each carrier's forgeries (unsigned, signed with another key, tampered with, and its
    own: a stale timestamp, a wrong nonce) get 403 on every webhook URL, before any work."""
    inputs = INPUTS[carrier]
    world = await make_world(LISTEN_PLAN, GREET_ONLY, **OPEN)
    live_sid = inputs.new_call_sid()
    await carrier_inputs.answer_inbound(http, world, inputs, live_sid)  # a call to disturb
    call_id = await call_id_for(world, live_sid)
    before = await one_call(world)
    assert before["status"] == "in-progress" and before["answered_by"] is None
    rest_before = inputs.rest_actions(world.carrier)

    # A new call, and each callback of the live call (on its own URL, `?call=` included).
    hooks = (
        [inputs.inbound(inputs.new_call_sid(), "+14155550123")]
        if direction == "inbound"
        else [
            inputs.answered(live_sid, call_id),
            inputs.completed(live_sid, call_id),
            inputs.verdict(live_sid, call_id, True),
        ]
    )
    tried = 0
    for name, forge in inputs.forgeries.items():
        for hook in hooks:
            headers, sent = forge(hook)
            status, body = await carrier_inputs.post(http, world, sent, headers)
            assert (status, body) == (403, "invalid signature"), (name, hook.path)
            tried += 1
    assert tried == len(inputs.forgeries) * len(hooks) and tried >= 3

    # Nothing happened: no call, no status or verdict, no REST action, no model session.
    assert await one_call(world) == before
    assert world.server.manager.active_ids() == [call_id]
    assert len(world.model.sessions) == 1
    assert inputs.rest_actions(world.carrier) == rest_before
    _, data = await world.api("GET", f"/api/calls/{call_id}")
    kinds = [e["kind"] for e in data["events"]]
    assert "status" not in kinds and "amd" not in kinds and "end" not in kinds

    # Positive controls: the same requests, signed as the carrier signs, take effect.
    status, _ = await carrier_inputs.post_signed(
        http, world, inputs, inputs.verdict(live_sid, call_id, False)
    )
    assert 200 <= status < 300
    assert (await one_call(world))["answered_by"] == inputs.verdict_raw[False]
    completed = inputs.completed(live_sid, call_id)
    status, _ = await carrier_inputs.post_signed(http, world, inputs, completed)
    assert 200 <= status < 300
    data = await world.wait_call(call_id)
    assert data["call"]["status"] == "completed"
    assert world.server.manager.active_count == 0


async def test_fake_carrier_with_a_bad_signature_gets_nothing(
    make_world: MakeWorld, carrier: str
) -> None:
    """The fake carrier itself signs with a key that is not the account's: its first
    webhook of an inbound call is refused, and no call, stream or model session follows."""
    world = await make_world(LISTEN_PLAN, GREET_ONLY, **OPEN)
    carrier_inputs.sign_badly(world.carrier)
    call = await world.carrier.place_inbound_call(
        from_number="+14155550177", to_number=FROM_NUMBER, plan=LISTEN_PLAN
    )
    await call.wait_for(lambda: any(w.status is not None for w in call.webhooks))
    assert [(w.kind, w.status) for w in call.webhooks] == [("voice", 403)]
    assert call.twiml == [] and call.stream_url is None and call.stream is None
    assert (await world.api("GET", "/api/calls"))[1]["calls"] == []
    assert world.model.sessions == []
    assert world.server.manager.active_count == 0


async def test_outbound_call_with_forged_callbacks_never_progresses(
    make_world: MakeWorld, carrier: str
) -> None:
    """Every callback of an outbound call is badly signed: the record never moves on them."""
    plan = CallPlan(ring_ms=100, callee=())
    world = await make_world(plan, GREET_ONLY)
    carrier_inputs.sign_badly(world.carrier)
    call_id = await world.place("+14155550123", "Ask whether they are open on Sunday.")
    sim = await world.carrier.wait_call()
    streams_at_dial = INPUTS[carrier].streams_at_dial
    if streams_at_dial:
        # Telnyx: the stream was asked for in the dial, its token in the dial's state; it
        # opens on answer whatever became of the webhooks, and it ends the call when it goes.
        await sim.wait_for(lambda: any(w.status is not None for w in sim.webhooks))
        await sim.hang_up()
    # Twilio, Plivo, SignalWire: the answer URL is refused, so the carrier gives up.
    async with asyncio.timeout(10):
        await sim.ended.wait()
    assert {w.kind for w in sim.webhooks} >= {"status"}
    assert {w.status for w in sim.webhooks} == {403}
    status, data = await world.api("GET", f"/api/calls/{call_id}")
    assert status == 200
    record = data["call"]
    assert record["answered_by"] is None
    assert [e["kind"] for e in data["events"] if e["kind"] in ("status", "amd")] == []
    if not streams_at_dial:
        assert {w.kind for w in sim.webhooks} >= {"status", "voice"}
        assert sim.stream_url is None
        assert data["active"] is True and record["status"] == "queued"
        assert record["answered_at"] is None
        assert [e["kind"] for e in data["events"] if e["kind"] == "answered"] == []


async def test_replays_and_strangers_are_harmless_on_every_carrier(
    make_world: MakeWorld, http: aiohttp.ClientSession, carrier: str
) -> None:
    """Validly signed callbacks for a call we never had, or replayed for a settled call,
    are accepted and change nothing."""
    inputs = INPUTS[carrier]
    world = await make_world(LISTEN_PLAN, GREET_ONLY, **OPEN)
    stranger = inputs.new_call_sid()
    for call_id in ("", "call_0123456789abcdef"):
        for hook in (inputs.completed(stranger, call_id), inputs.verdict(stranger, call_id, True)):
            assert await carrier_inputs.post_signed(http, world, inputs, hook) == (204, "")
    assert (await world.api("GET", "/api/calls"))[1]["calls"] == []
    assert world.model.sessions == []

    live_sid = inputs.new_call_sid()
    await carrier_inputs.answer_inbound(http, world, inputs, live_sid)
    call_id = await call_id_for(world, live_sid)
    completed = inputs.completed(live_sid, call_id)
    assert (await carrier_inputs.post_signed(http, world, inputs, completed))[0] == 204
    settled = await world.wait_call(call_id)
    assert settled["call"]["status"] == "completed"
    for replay in (completed, inputs.verdict(live_sid, call_id, True), completed):
        assert await carrier_inputs.post_signed(http, world, inputs, replay) == (204, "")
    again = await world.wait_call(call_id)
    assert again["call"] == settled["call"] and again["events"] == settled["events"]
    assert world.server.manager.active_count == 0


async def test_a_live_calls_webhooks_twice_take_effect_once_on_every_carrier(
    make_world: MakeWorld, http: aiohttp.ClientSession, carrier: str
) -> None:
    """A carrier may deliver a webhook twice (a retry after a lost answer): the inbound
    answer again gets the same call and the same stream token (whichever answer the carrier
    acts on admits the stream), no second call; the voicemail verdict again records and
    triggers nothing more."""
    inputs = INPUTS[carrier]
    world = await make_world(LISTEN_PLAN, GREET_ONLY, **OPEN)
    live_sid = inputs.new_call_sid()
    first = await carrier_inputs.answer_inbound(http, world, inputs, live_sid)
    again = await carrier_inputs.answer_inbound(http, world, inputs, live_sid)
    call_id = await call_id_for(world, live_sid)
    assert first == again and first.split(".")[0] == call_id
    assert [c["id"] for c in (await world.api("GET", "/api/calls"))[1]["calls"]] == [call_id]
    assert world.server.manager.active_count == 1
    verdict = inputs.verdict(live_sid, call_id, False)
    for _ in range(2):
        assert await carrier_inputs.post_signed(http, world, inputs, verdict) == (204, "")
    events = (await world.api("GET", f"/api/calls/{call_id}"))[1]["events"]
    assert [e["kind"] for e in events].count("amd") == 1
