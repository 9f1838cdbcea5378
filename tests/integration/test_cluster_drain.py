"""A rolling restart of one instance among several, with real `serve` processes on one
PostgreSQL: SIGTERM makes it not ready at once and shows it draining in the registry, new
calls go through the other instance, its live call finishes, and its row is gone once it
has exited."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.helpers.cluster_world import ClusterWorld, cluster_world
from tests.helpers.phone import TO
from tests.helpers.polling import eventually
from voicecall_rt.simulator.scenario import CallPlan, CallTool, ModelScript, Say, Speak

pytestmark = pytest.mark.slow  # real `serve` child processes, calls in real time

HELLO = "Hello, Maria speaking."
CONFIRMED = "Hi Maria, just confirming Tuesday at three. Thanks, bye!"
LATER = "+14155550124"  # the call placed during the drain, through the other instance

# The drained instance's call rings a while (the drain begins meanwhile), then Maria says
# hello and the model confirms and hangs up. The later call only rings: it needs no turn
# of the script the model's sessions share.
PLANS = {
    TO: CallPlan(ring_ms=1500, callee=(Speak(HELLO, 400),)),
    LATER: CallPlan(ring_ms=25_000),
}
SCRIPT = ModelScript(
    turns=((Say(CONFIRMED, 500), CallTool("end_call", {"reason": "confirmed"})),),
    caller_transcripts=(HELLO,),
)


async def _instances(world: ClusterWorld) -> dict[str, str]:
    return {row["id"]: row["state"] for row in await world.fetch("SELECT * FROM instances")}


async def test_sigterm_drains_one_instance_while_the_other_takes_new_calls(
    tmp_path: Path, pg_url: str
) -> None:
    async with cluster_world(tmp_path, pg_url, lambda to: PLANS[to], SCRIPT) as world:
        a, b = world.instances["a"], world.instances["b"]
        assert await _instances(world) == {"a": "serving", "b": "serving"}
        call_id, _ = await world.place_call("a", TO)
        a.signal(signal.SIGTERM)

        async def not_ready() -> bool:
            return (await a.get("/ready"))[0] == 503

        await eventually(not_ready, 1.0, "a's /ready says 503 within a second of SIGTERM")
        status, body = await world.place("a", LATER)
        assert (status, body["error"]["code"]) == (503, "draining")
        status, body = await world.place("b", LATER)
        assert status == 201, body
        assert (await world.call(body["call"]["id"]))["owner"] == "b"

        async def shown_draining() -> bool:
            return (await _instances(world)).get("a") == "draining"

        await eventually(shown_draining, 5, "a shown draining in the registry", poll_s=0.1)

        # a's call ends by itself, then a exits and leaves the registry.
        assert await a.exit_code() == 0, a.stderr
        row = await world.call(call_id)
        assert (row["status"], row["end_reason"]) == ("completed", "model-ended")
        said = [r["text"] for r in await world.transcript(call_id) if r["role"] == "assistant"]
        assert said == [CONFIRMED]
        assert await _instances(world) == {"b": "serving"}
        assert b.process.returncode is None
        assert len(await world.live_calls()) == 1  # b's call, still ringing
        assert "Traceback" not in a.stderr
