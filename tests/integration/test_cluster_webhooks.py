"""What the carrier sends twice, or to the wrong instance, with real `serve` processes on one
PostgreSQL: an inbound answer webhook delivered to both instances makes one call and one
stream, a status callback repeated has one effect, and a media stream that reaches an
instance other than its call's owner is refused, said so in the log, and costs the owner's
call nothing."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import aiohttp
import orjson
import pytest

from tests.helpers.cluster_world import (
    OPEN_INBOUND,
    ClusterWorld,
    cluster_world,
    conversation,
    lines_of,
)
from tests.helpers.phone import TO
from tests.helpers.polling import eventually
from tests.helpers.twilio_wire import STREAM_PATH, StreamClient, stream_token, verbs
from voicecall_rt.carrier.twilio.wire import TOKEN_PARAMETER
from voicecall_rt.simulator.scenario import CallPlan, ModelScript, Pause, Say
from voicecall_rt.simulator.sim_call import SentWebhook, SimCall

pytestmark = pytest.mark.slow  # real `serve` child processes, calls in real time

CALLER = "+14155550177"
START_DELAY_MS = 2000
LISTENS = CallPlan(ring_ms=200, callee=(Pause(60_000),))
GREETS = ModelScript(turns=((Say("Hey! What's up?", 400),),))
# The callee and the model talk; a pause between leaves room for the stray stream.
EXCHANGES = [
    ("Hello, Kim here.", "Hi Kim, I'm an AI assistant calling about your parcel."),
    ("Which parcel?", "The one sent on Monday. Thanks, goodbye!"),
]
TALKS, TALKS_SCRIPT = conversation(EXCHANGES, model_hangs_up=True, gap_ms=1500)


def _other(world: ClusterWorld, name: str) -> str:
    [other] = [n for n in world.instances if n != name]
    return other


async def _streaming(sim: SimCall) -> str:
    """The stream token the carrier presented, once its stream has started."""
    await sim.wait_for(lambda: sim.start_message is not None, 15)
    assert sim.start_message is not None
    token: str = sim.start_message["start"]["customParameters"][TOKEN_PARAMETER]
    return token


async def _statuses(world: ClusterWorld, call_id: str) -> list[str]:
    """The status changes the call's events record, in order."""
    events = await world.events(call_id)
    return [orjson.loads(e["data"])["status"] for e in events if e["kind"] == "status"]


async def _redeliver_twice(world: ClusterWorld, hook: SentWebhook) -> None:
    """A callback for a's call, sent again: to a (twice delivered); and to b, which refuses
    it, as it is signed for a's own URL (only a misrouting balancer would bring it there)."""
    status, body = await world.redeliver(hook, "a")
    assert status in (200, 204), (status, body)
    status, body = await world.redeliver(hook, "b")
    assert (status, body) == (403, "invalid signature")


async def _written_through(world: ClusterWorld, name: str) -> None:
    """Every write instance `name` had queued is in the database: a call placed through it
    now is journalled after them (its writer commits in order)."""
    status, body = await world.place(name, TO)
    assert status == 201, body
    call_id = body["call"]["id"]

    async def placed() -> bool:
        return any(e["kind"] == "placed" for e in await world.events(call_id))

    await eventually(placed, 10, f"the call placed through {name} journalled", poll_s=0.05)


async def test_an_inbound_answer_delivered_to_both_instances_makes_one_call(
    tmp_path: Path, pg_url: str
) -> None:
    async with cluster_world(tmp_path, pg_url, LISTENS, GREETS, settings=OPEN_INBOUND) as world:
        # The stream's start waits a while after the answer: the repeats come meanwhile,
        # while the token is not spent yet.
        world.carrier.delay_start_ms = START_DELAY_MS
        sim = await world.carrier.place_inbound_call(
            from_number=CALLER, to_number=world.carrier.owned_numbers[0], plan=LISTENS
        )

        async def answered() -> bool:
            return any(hook.kind == "voice" for hook in sim.webhooks)

        await eventually(answered, 10, "the answer webhook answered")
        [answer] = [hook for hook in sim.webhooks if hook.kind == "voice"]
        assert answer.status == 200
        call_id = await world.call_id_for(sim.sid)
        owner = (await world.call(call_id))["owner"]

        # The carrier delivers the same answer webhook again; the balancer picks the other
        # instance: refused there (the call is live on the owner).
        other = _other(world, owner)
        status, body = await world.redeliver(answer, other)
        assert status == 200, body
        assert verbs(body) == ["Reject"], body
        await world.instances[other].wait_line("inbound webhook for a call another instance")
        # ...and to the owner once more: the same call, the same token.
        status, body = await world.redeliver(answer, owner)
        assert status == 200, body
        again = stream_token(body)
        assert await _streaming(sim) == again  # the stream the carrier opened is admitted

        # Signed for the shared URL, it is good only through the shared host: not at an
        # instance's own address, nor under a host nobody configured.
        for url in (world.public_urls[owner], "https://93.184.215.99"):
            moved = dataclasses.replace(answer, url=f"{url}/voice/answer")
            assert await world.redeliver(moved, owner) == (403, "invalid signature")

        rows = await world.fetch("SELECT id FROM calls WHERE carrier_sid = $1", sim.sid)
        assert [row["id"] for row in rows] == [call_id]
        assert len(await world.fetch("SELECT id FROM calls")) == 1
        assert len(world.model.sessions) == 1  # one model session: one bridge
        await sim.wait_for(lambda: sim.played_ms > 0, 15)  # greeted on the one stream
        assert not sim.ended.is_set() and sim.stream is not None
        assert not sim.stream.closed.is_set()


async def test_a_status_callback_delivered_twice_has_one_effect(
    tmp_path: Path, pg_url: str
) -> None:
    async with cluster_world(tmp_path, pg_url, LISTENS, GREETS) as world:
        call_id, sim = await world.place_call("a", TO)
        await _streaming(sim)
        [answered] = [
            hook
            for hook in sim.webhooks
            if hook.kind == "status" and hook.params.get("CallStatus") == "in-progress"
        ]
        await _redeliver_twice(world, answered)

        await sim.hang_up()
        row = await world.settled(call_id, 10)
        [completed] = [
            hook
            for hook in sim.webhooks
            if hook.kind == "status" and hook.params.get("CallStatus") == "completed"
        ]
        await _redeliver_twice(world, completed)
        for name in ("a", "b"):
            await _written_through(world, name)

        statuses = await _statuses(world, call_id)
        # Each change once (the answer itself is the `answered` event: the answer webhook
        # came first, so its status callback was news to nobody, sent once or twice).
        assert statuses.count("completed") == 1, statuses
        assert len(statuses) == len(set(statuses)), statuses
        answered_events = [e for e in await world.events(call_id) if e["kind"] == "answered"]
        settled = [e for e in await world.events(call_id) if e["kind"] == "settled"]
        assert len(answered_events) == 1 and len(settled) == 1
        again = await world.call(call_id)
        assert (again["status"], again["end_reason"], again["ended_at"]) == (
            row["status"],
            row["end_reason"],
            row["ended_at"],
        )


async def test_a_stream_at_the_wrong_instance_is_refused_and_named(
    tmp_path: Path, pg_url: str
) -> None:
    async with cluster_world(tmp_path, pg_url, TALKS, TALKS_SCRIPT) as world:
        call_id, sim = await world.place_call("a", TO)
        token = await _streaming(sim)
        await sim.wait_for(lambda: sim.played_ms > 0, 20)  # the call talks

        # The same start, valid token and all, reaches b instead.
        async with aiohttp.ClientSession() as http:
            ws = await http.ws_connect(world.instances["b"].base_url + STREAM_PATH)
            stray = StreamClient(ws)
            await stray.open(sim.sid, token)
            assert await stray.close_code() == aiohttp.WSCloseCode.POLICY_VIOLATION
        await world.instances["b"].wait_line(
            f"stream for call {call_id} reached instance b, owned by a: refused"
        )

        # The owner's call goes on to its end, every line in place.
        await sim.wait_for(lambda: sim.ended.is_set(), 30)
        row = await world.settled(call_id, 10)
        assert (row["status"], row["end_reason"]) == ("completed", "model-ended")
        assert await world.spoken(call_id) == lines_of(EXCHANGES)
        assert len(world.model.sessions) == 1
