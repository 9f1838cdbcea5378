"""`voicecall-rt mcp` driven by the `mcp` package's own client over stdio.

The MCP server runs as a real child process talking to our real server (in a simulated
world on this test's event loop) through the local API, exactly as an agent would use it.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.helpers.mcp_client import error, mcp_client, ok
from tests.helpers.world import MakeWorld
from voicecall_rt.private_files import ensure_api_token
from voicecall_rt.simulator.scenario import CallPlan, ModelScript, Pause
from voicecall_rt.simulator.scenarios import DEMO_NUMBER, pizza_booking
from voicecall_rt.simulator.world import SimWorld

TOOLS = {"make_phone_call", "get_call", "list_calls", "hang_up", "cancel_scheduled_call"}
LONG_NUMBER = "+14155550177"
LONG_CALL = CallPlan(ring_ms=100, answered_by="human", amd_delay_ms=50, callee=(Pause(60_000),))
START_HINT = "voicecall-rt serve"


@contextmanager
def dead_port() -> Iterator[int]:
    """A loopback port nothing listens on: bound (so no one else takes it), never listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def write_config(path: Path, data_dir: Path, port: int) -> Path:
    path.write_text(f'dataDir = "{data_dir}"\n\n[server]\nport = {port}\n', encoding="utf-8")
    return path


def world_config(world: SimWorld, tmp_path: Path) -> Path:
    return write_config(tmp_path / "mcp.toml", world.server.settings.data_dir, world.server.port)


async def until_answered(world: SimWorld, call_id: str) -> None:
    """Read the call's live events until it is answered (no clock involved)."""
    headers = {"Authorization": f"Bearer {world.server.api_token}"}
    url = f"{world.server.local_url}/api/calls/{call_id}/events"
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as response:
        async for raw in response.content:
            if raw.startswith(b"event: answered"):
                return
            if raw.startswith(b"event: end"):
                raise AssertionError("the call ended before it was answered")
    raise AssertionError("the event stream ended before the call was answered")


# ---- what an agent sees first, and with no server ---------------------------------------


@pytest.mark.slow  # the MCP server as a child process
async def test_tools_and_their_guidance_and_no_server(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with dead_port() as port:
        config = write_config(tmp_path / "mcp.toml", data_dir, port)
        async with asyncio.timeout(30), mcp_client(config) as client:
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            assert set(tools) == TOOLS

            place = tools["make_phone_call"]
            schema = place.input_schema
            assert set(schema["properties"]) == {
                "to",
                "task",
                "systemPrompt",
                "wait",
                "outcomeSchema",
                "at",
                "timeZone",
                "whenAllowed",
            }
            assert set(schema["required"]) == {"to", "task"}
            assert schema["properties"]["wait"]["default"] is True
            assert "4000" in schema["properties"]["systemPrompt"]["description"]
            guide = place.description or ""
            for needed in (
                "second person",
                "on whose behalf",
                "fallbacks",
                "cannot help",
                "personal information",
                "AI assistant",
                "GOOD systemPrompt",
                "BAD systemPrompt",
                "4000",
            ):
                assert needed in guide, needed
            assert place.output_schema is not None
            assert "outcome" in place.output_schema["properties"]
            assert tools["get_call"].input_schema["required"] == ["call_id"]
            assert tools["hang_up"].input_schema["required"] == ["call_id"]
            assert "active_only" in tools["list_calls"].input_schema["properties"]
            assert tools["get_call"].annotations is not None
            assert tools["get_call"].annotations.read_only_hint is True

            calls: list[tuple[str, dict[str, Any]]] = [
                ("make_phone_call", {"to": DEMO_NUMBER, "task": "Book a table."}),
                ("get_call", {"call_id": "call_0123456789abcdef"}),
                ("list_calls", {}),
                ("hang_up", {"call_id": "call_0123456789abcdef"}),
            ]
            # No server has ever run with this data dir (no token file yet).
            for name, arguments in calls:
                message = error(await client.call_tool(name, arguments))
                assert START_HINT in message and str(data_dir) in message, message
            # A server ran once (its token is there) but nothing listens now.
            ensure_api_token(data_dir)
            for name, arguments in calls:
                message = error(await client.call_tool(name, arguments))
                assert "no voicecall-rt server is running" in message, message
                assert START_HINT in message, message

            # Refused before the server is asked at all.
            too_long = "You are calling for Sam. " * 200
            message = error(
                await client.call_tool(
                    "make_phone_call",
                    {"to": DEMO_NUMBER, "task": "Book.", "systemPrompt": too_long},
                )
            )
            assert f"{len(too_long.strip())} characters" in message and "4000" in message
            assert "not placed" in message
            message = error(await client.call_tool("get_call", {"call_id": "../calls"}))
            assert "not a call id" in message


# ---- a real call, followed live ----------------------------------------------------------


async def test_make_phone_call_waits_and_reports_progress(
    make_world: MakeWorld, tmp_path: Path
) -> None:
    scenario = pizza_booking(0.3)
    world = await make_world(scenario.carrier, scenario.model)
    reports: list[tuple[float, str]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        reports.append((progress, message or ""))

    async with asyncio.timeout(40), mcp_client(world_config(world, tmp_path)) as client:
        result = ok(
            await client.call_tool(
                "make_phone_call",
                {"to": scenario.to_number, "task": scenario.task, "systemPrompt": BRIEF},
                progress_callback=on_progress,
            )
        )
        call_id = result["call_id"]
        assert result["status"] == "completed" and result["active"] is False
        assert result["outcome"]["success"] is True
        assert result["outcome"]["details"]["confirmation"] == "4472"
        assert "4472" in result["summary"] or "goal was achieved" in result["summary"]
        lines = result["transcript"]
        assert lines[0].startswith("callee: Thanks for calling Tony's Pizza")
        assert "AI: Wonderful: confirmation 4 4 7 2. Thank you so much, Maria!" in lines
        assert "callee: Perfect, you're all set. Your confirmation number is 4 4 7 2." in lines
        assert "[pressed 1]" in lines

        # What the server stored is what the tool reported.
        stored = await world.wait_call(call_id)
        assert len(lines) == len(stored["transcript"])
        assert stored["call"]["system_prompt"] == BRIEF

        # Progress: numbered in order, the milestones and every line as it was spoken.
        values = [value for value, _ in reports]
        assert values == sorted(values) and len(set(values)) == len(values)
        messages = [message for _, message in reports]
        for milestone in ("ringing", "answered"):
            assert messages.count(milestone) == 1, messages
        assert messages.index("ringing") < messages.index("answered")
        # Every line once, as it was transcribed: a caller's words are often transcribed
        # after the model began its reply, while the transcript is in the order said.
        spoken = [m for m in messages if m.startswith(("callee: ", "AI: ", "["))]
        assert sorted(spoken) == sorted(lines), messages
        assert len(set(spoken)) == len(spoken)
        assert messages.index("answered") < min(messages.index(line) for line in lines)
        outcome = [m for m in messages if m.startswith("outcome: ")]
        assert outcome == ["outcome: success: " + scenario_summary()]
        assert messages[-1].startswith("call ended: completed")

        # The same call, read back through the other tools.
        again = ok(await client.call_tool("get_call", {"call_id": call_id}))
        assert again["status"] == "completed" and again["outcome"] == result["outcome"]
        assert again["transcript"] == lines
        listed = ok(await client.call_tool("list_calls", {}))["calls"]
        assert [c["call_id"] for c in listed] == [call_id]
        assert listed[0]["outcome_success"] is True and listed[0]["number"] == DEMO_NUMBER
        assert ok(await client.call_tool("list_calls", {"active_only": True}))["calls"] == []


BRIEF = (
    "You are calling Tony's Pizza on behalf of Alex Chen to book a table for 4 this Friday "
    "at 7 pm. Any time from 6:30 to 8 pm is fine. The booking is under Alex Chen; give no "
    "other details. If asked, say you are an AI assistant. Bring back the confirmation number."
)


def scenario_summary() -> str:
    return "Booked a table for 4 at Tony's Pizza on Friday at 7 pm under Alex Chen."


# ---- without waiting: follow up, refusals, hang up ---------------------------------------


async def test_place_without_waiting_then_hang_up(make_world: MakeWorld, tmp_path: Path) -> None:
    world = await make_world(
        LONG_CALL,
        ModelScript(),
        **{"calls.maxConcurrent": 1, "calls.silenceNudgeSeconds": 60},
    )
    async with asyncio.timeout(30), mcp_client(world_config(world, tmp_path)) as client:
        placed = ok(
            await client.call_tool(
                "make_phone_call",
                {"to": LONG_NUMBER, "task": "Ask about opening hours.", "wait": False},
            )
        )
        call_id = placed["call_id"]
        assert placed["active"] is True and placed["number"] == LONG_NUMBER
        assert placed["outcome"] is None and "not ended" in placed["summary"]
        assert f'get_call with call_id="{call_id}" and waitSeconds=45' in placed["next_step"]

        shown = ok(await client.call_tool("get_call", {"call_id": call_id}))
        assert shown["call_id"] == call_id and shown["active"] is True
        active = ok(await client.call_tool("list_calls", {"active_only": True}))["calls"]
        assert [c["call_id"] for c in active] == [call_id]

        await until_answered(world, call_id)

        # The API's refusals come back as tool errors with its reasons.
        message = error(await client.call_tool("make_phone_call", {"to": "12345", "task": "Ask."}))
        assert "not placed" in message and "E.164" in message
        message = error(
            await client.call_tool("make_phone_call", {"to": DEMO_NUMBER, "task": "Ask."})
        )
        assert "concurrent call limit reached" in message

        ended = ok(await client.call_tool("hang_up", {"call_id": call_id}))
        assert ended["active"] is False
        assert ended["status"] == "completed"
        assert ended["end_reason"] == "hangup-requested"
        assert [c.status for c in world.carrier.calls.values()] == ["completed"]

        message = error(await client.call_tool("hang_up", {"call_id": call_id}))
        assert "already ended" in message
        message = error(await client.call_tool("get_call", {"call_id": "call_0000000000000000"}))
        assert "no call with id" in message
