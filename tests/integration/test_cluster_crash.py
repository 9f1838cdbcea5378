"""Crashes lose nothing, with real `serve` processes on one PostgreSQL: an instance killed
mid-call (SIGKILL) has its call settled `instance-lost` by another within the lease, hung
up at the carrier, its slot freed, and every line said before the kill kept; the database
restarting mid-call costs the call nothing."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.helpers.cluster_world import (
    LEASE_S,
    ClusterWorld,
    cluster_world,
    conversation,
    lines_of,
)
from tests.helpers.phone import TO
from tests.helpers.polling import eventually
from tests.helpers.postgres_server import PostgresServer
from voicecall_rt.cluster.base import INSTANCE_LOST

pytestmark = pytest.mark.slow  # real `serve` child processes, calls in real time

EXCHANGES = [
    ("Hello, Sam speaking.", "Hi Sam, I'm an AI assistant calling about your order."),
    ("Oh, has it shipped yet?", "It shipped yesterday and arrives on Friday."),
]
# Two exchanges, then the callee stays on: the kill comes there.
TALKS_ON, TALKS_ON_SCRIPT = conversation(EXCHANGES, model_hangs_up=False)
# A whole call that ends by itself: a third exchange, and the model hangs up.
WHOLE_EXCHANGES = [*EXCHANGES, ("Great, thanks a lot.", "You're welcome, goodbye!")]
WHOLE, WHOLE_SCRIPT = conversation(WHOLE_EXCHANGES, model_hangs_up=True)
HEARD_BY_ANSWER_MS = 1200  # the model's first two lines, played out


async def _stored_lines(world: ClusterWorld, call_id: str, lines: int, timeout_s: float) -> None:
    async def stored() -> bool:
        return len(await world.spoken(call_id)) >= lines

    await eventually(stored, timeout_s, f"{lines} lines of {call_id} stored", poll_s=0.05)


async def test_sigkill_mid_call_is_settled_by_another_instance(tmp_path: Path, pg_url: str) -> None:
    settings = {"calls.maxConcurrent": 1}
    async with cluster_world(
        tmp_path, pg_url, TALKS_ON, TALKS_ON_SCRIPT, settings=settings
    ) as world:
        # A carrier leg that outlives its stream (the stream dies with the instance, the
        # phone call does not): only a hang-up by REST ends it.
        world.carrier.stay_up_after_stream = True
        call_id, sim = await world.place_call("a", TO)
        await _stored_lines(world, call_id, len(lines_of(EXCHANGES)), 30)

        await world.kill("a")
        # What was said before the crash is in the database, each line once, in order.
        assert await world.spoken(call_id) == lines_of(EXCHANGES)
        assert (await world.call(call_id))["owner"] == "a"
        assert not sim.ended.is_set()  # the callee is still on the line

        # Within the lease (and the sweeper's next beat), b settles it.
        row = await world.wait_call(
            call_id,
            lambda row: row["end_reason"] == INSTANCE_LOST,
            LEASE_S * 3,
            "the dead instance's call settled as instance-lost",
        )
        assert row["status"] == "completed"  # it had been answered
        assert row["ended_at"] is not None
        settled = [e for e in await world.events(call_id) if e["kind"] == "settled"]
        assert len(settled) == 1, settled
        assert orjson.loads(settled[0]["data"])["reason"] == INSTANCE_LOST
        # b hung it up at the carrier.
        await sim.wait_for(lambda: sim.ended.is_set(), 10)
        assert sim.rest_hang_ups == ["completed"]
        assert "settled: completed (instance-lost)" in world.instances["b"].stderr

        # The slot is free: at a limit of 1, a new call is admitted.
        status, body = await world.place("b", TO)
        assert status == 201, body
        assert len(await world.live_calls()) == 1


async def test_database_restart_mid_call_loses_and_repeats_nothing(
    tmp_path: Path, pg_url: str, postgres: PostgresServer
) -> None:
    async with cluster_world(tmp_path, pg_url, WHOLE, WHOLE_SCRIPT) as world:
        call_id, sim = await world.place_call("a", TO)
        await _stored_lines(world, call_id, 2, 30)  # hello and hi stored

        # The database goes away while the call talks on: the callee asks, the model
        # answers (both lines held by the writer), then the database comes back.
        await postgres.stop()
        try:
            await world.model.wait_for(lambda: world.model.turns_played >= 2, 20)
            await sim.wait_for(lambda: sim.played_ms >= HEARD_BY_ANSWER_MS, 20)
        finally:
            await postgres.start()

        await sim.wait_for(lambda: sim.ended.is_set(), 30)
        row = await world.settled(call_id, 15)
        assert (row["status"], row["end_reason"]) == ("completed", "model-ended")
        assert await world.spoken(call_id) == lines_of(WHOLE_EXCHANGES)
        for rows in (await world.transcript(call_id), await world.events(call_id)):
            seqs = [r["seq"] for r in rows]
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs
        # Settled once, by its owner as it ended; nobody took it for lost meanwhile.
        settled = [e for e in await world.events(call_id) if e["kind"] == "settled"]
        assert len(settled) == 1, settled
        assert orjson.loads(settled[0]["data"])["reason"] == "model-ended"
        assert await world.fetch("SELECT id FROM calls WHERE end_reason = $1", INSTANCE_LOST) == []
        assert all(serve.process.returncode is None for serve in world.instances.values())
