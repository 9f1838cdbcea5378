"""The MCP tools never wait on a call past their bound (OpenClaw's MCP client gives up on a
request after 60 s): `make_phone_call` returns at the bound with the call still going and
the way to continue, and `get_call` with `waitSeconds` gets the final result.

The server runs in memory against our real server in a simulated world, through the `mcp`
package's own client. The bound is shortened to half a second; every call here lasts
seconds longer than that by its script, so which side of the bound it ends on is never a
race.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp import Client
from mcp.types import CallToolResult, TextContent

from tests.helpers.world import MakeWorld
from voicecall_rt.local_client import LocalClient
from voicecall_rt.mcp_results import MAX_WAIT_S
from voicecall_rt.mcp_server import TOOL_DEADLINE_S, build_server
from voicecall_rt.simulator.scenarios import pizza_booking
from voicecall_rt.simulator.world import SimWorld

BOUND_S = 0.5
SCHEMA = {
    "type": "object",
    "properties": {"confirmation": {"type": "string"}},
    "required": ["confirmation"],
}


class RecordingClient(LocalClient):
    """The real local API client, keeping each request's body as the API received it."""

    def __init__(self, world: SimWorld) -> None:
        super().__init__(world.server.local_url, world.server.settings.data_dir)
        self.bodies: list[tuple[str, str, dict[str, Any] | None]] = []

    async def request(self, method: str, path: str, body: Any = None, **options: Any) -> Any:
        self.bodies.append((method, path, body))
        return await super().request(method, path, body, **options)


@asynccontextmanager
async def mcp_in_memory(world: SimWorld, api: LocalClient) -> AsyncIterator[Client]:
    server = build_server(world.server.settings, api, wait_s=BOUND_S)
    async with Client(server) as client:
        yield client


def ok(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    data: dict[str, Any] = result.structured_content
    assert data is not None
    return data


def test_the_bounds_fit_openclaws_request_timeout() -> None:
    assert MAX_WAIT_S <= 45 < TOOL_DEADLINE_S < 60


async def test_a_long_call_returns_at_the_bound_then_get_call_follows_it(
    make_world: MakeWorld,
) -> None:
    scenario = pizza_booking(0.3)
    world = await make_world(scenario.carrier, scenario.model)
    api = RecordingClient(world)
    said: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        said.append(message or "")

    async with asyncio.timeout(60), mcp_in_memory(world, api) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        wait_schema = tools["get_call"].input_schema["properties"]["waitSeconds"]
        assert (wait_schema["minimum"], wait_schema["maximum"]) == (0, MAX_WAIT_S)
        assert set(tools["make_phone_call"].input_schema["properties"]) == {
            "to",
            "task",
            "systemPrompt",
            "wait",
            "outcomeSchema",
            "at",
            "timeZone",
            "whenAllowed",
        }
        for text in (tools["make_phone_call"].description or "", client.instructions):
            assert f"waitSeconds={MAX_WAIT_S}" in (text or "") and "active" in (text or "")

        loop = asyncio.get_running_loop()
        started = loop.time()
        first = ok(
            await client.call_tool(
                "make_phone_call",
                {"to": scenario.to_number, "task": scenario.task},
                progress_callback=on_progress,
            )
        )
        assert loop.time() - started >= BOUND_S  # it followed the call up to the bound
        call_id = first["call_id"]
        assert first["active"] is True and first["outcome"] is None
        assert first["status"] in ("initiating", "queued", "ringing", "in-progress")
        step = first["next_step"]
        assert f'call_id="{call_id}"' in step and f"waitSeconds={MAX_WAIT_S}" in step
        assert "Do not place the call again" in step
        assert said and said[0] == "dialing"  # progress streamed meanwhile

        # The agent's loop: get_call with waitSeconds until the call is no longer active.
        polls = 0
        while True:
            polls += 1
            arguments = {"call_id": call_id, "waitSeconds": MAX_WAIT_S}
            result = ok(await client.call_tool("get_call", arguments))
            if not result["active"]:
                break
            assert result["next_step"] == step
        assert polls > 1  # each poll returned at the (shortened) bound while the call went on
        assert result["status"] == "completed" and result["next_step"] is None
        assert result["outcome"]["success"] is True
        assert result["outcome"]["details"]["confirmation"] == "4472"
        # Every poll long-polled the API for the bound, never longer.
        waits = [path for method, path, _ in api.bodies if method == "GET"]
        assert waits and all(path.endswith(f"?wait={BOUND_S:g}") for path in waits[-polls:])
        stored = await world.wait_call(call_id)
        assert stored["call"]["status"] == "completed"


async def test_outcome_schema_reaches_the_api(make_world: MakeWorld) -> None:
    scenario = pizza_booking(0.3)
    world = await make_world(scenario.carrier, scenario.model)
    api = RecordingClient(world)
    async with asyncio.timeout(60), mcp_in_memory(world, api) as client:
        arguments = {
            "to": scenario.to_number,
            "task": scenario.task,
            "wait": False,
            "outcomeSchema": SCHEMA,
        }
        placed = ok(await client.call_tool("make_phone_call", arguments))
        assert placed["active"] is True and placed["next_step"] is not None
        [(method, path, body)] = api.bodies
        assert (method, path) == ("POST", "/api/calls")
        assert body == {"to": scenario.to_number, "task": scenario.task, "outcomeSchema": SCHEMA}
        # An invalid schema is the API's to refuse, before dialling; its reason comes back.
        bad = {**arguments, "outcomeSchema": {"type": "string"}}
        result = await client.call_tool("make_phone_call", bad)
        assert result.is_error
        [content] = result.content
        assert isinstance(content, TextContent) and "not placed" in content.text
        await client.call_tool("hang_up", {"call_id": placed["call_id"]})
    assert len(world.carrier.calls) == 1
