"""Live everywhere, with real `serve` processes on one PostgreSQL: a call instance `a` runs
is followed through instance `b` — its event stream (what the dashboard and `call
--follow` read), `GET /api/calls/{id}?wait=` (what MCP's get_call and `call --wait` ask),
and `calls show --follow` — line by line as it is said, to its end; and `b` accepts the
same API token as `a`, shared through the database."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.helpers.cli import cli
from tests.helpers.cluster_world import cluster_world, conversation, lines_of
from tests.helpers.phone import TO
from voicecall_rt.local_client import LocalClient
from voicecall_rt.private_files import read_api_token

pytestmark = pytest.mark.slow  # real `serve` child processes, calls in real time

EXCHANGES = [
    ("Hello, Sam speaking.", "Hi Sam, I'm an AI assistant calling about your order."),
    ("Oh, has it shipped yet?", "It shipped yesterday and arrives on Friday."),
    ("Great, thanks a lot.", "You're welcome, goodbye!"),
]
PLAN, SCRIPT = conversation(EXCHANGES, model_hangs_up=True, gap_ms=400)


async def _follow(client: LocalClient, call_id: str) -> list[tuple[str, dict[str, Any]]]:
    return [event async for event in client.follow(call_id)]


async def test_a_call_on_one_instance_is_followed_live_through_another(
    tmp_path: Path, pg_url: str
) -> None:
    async with cluster_world(tmp_path, pg_url, PLAN, SCRIPT) as world:
        a, b = world.instances["a"], world.instances["b"]
        token = read_api_token(a.data_dir)
        assert token is not None and read_api_token(b.data_dir) == token

        call_id, _ = await world.place_call("a", TO)
        at_b = LocalClient(b.base_url, b.data_dir)
        # b runs nothing of it, yet says it is live, and waits for its end.
        status, first = await b.api("GET", f"/api/calls/{call_id}")
        assert status == 200 and first["active"] is True
        assert first["call"]["status"] not in ("completed", "failed")
        follower = asyncio.create_task(_follow(at_b, call_id))
        waiter = asyncio.create_task(b.api("GET", f"/api/calls/{call_id}?wait=45"))
        # `calls show --follow` against b: its config names b's port.
        config = tmp_path / "b-cli.json"
        b_config = orjson.loads(b.config.read_bytes())
        b_config.setdefault("server", {})["port"] = int(b.base_url.rsplit(":", 1)[1])
        config.write_bytes(orjson.dumps(b_config))
        shown = asyncio.create_task(cli("calls", "show", call_id, "--follow", config=config))

        events = await asyncio.wait_for(follower, 60)
        kinds = [kind for kind, _ in events]
        assert kinds[-1] == "end" and events[-1][1]["call"]["status"] == "completed"
        lines = [(e["role"], e["text"]) for kind, e in events if kind == "transcript"]
        assert [line for line in lines if line[0] != "system"] == lines_of(EXCHANGES)
        # Followed from before it was answered: the lines and the status changes came live.
        statuses = [e["data"]["status"] for k, e in events if k == "call.status"]
        assert "in-progress" in statuses and statuses[-1] == "completed"

        status, waited = await asyncio.wait_for(waiter, 60)
        assert status == 200 and waited["active"] is False
        assert waited["call"]["status"] == "completed"
        assert waited["call"]["end_reason"] == "model-ended"

        code, out, err = await asyncio.wait_for(shown, 60)
        assert code == 0, err
        for _, text in lines_of(EXCHANGES):
            assert text in out
        assert "completed (model-ended)" in out
        row = await world.call(call_id)
        assert row["owner"] == "a" and row["status"] == "completed"
