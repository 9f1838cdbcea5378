"""Pure parts of the MCP face: the event-stream parser, transcript trimming, progress words."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from mcp.server.mcpserver.exceptions import ToolError

from voicecall_rt.local_client import api_error, parse_sse
from voicecall_rt.mcp_results import (
    HEAD_LINES,
    MAX_LINE_CHARS,
    MAX_LINES,
    MAX_WAIT_S,
    call_result,
    progress_message,
)
from voicecall_rt.mcp_server import _bounded

STREAM = (
    b": keepalive\n\n"
    b'event: transcript\ndata: {"role": "caller", "text": "Hello?"}\n\n'
    b"event: broken\ndata: {not json\n\n"
    b'event: end\r\ndata: {"call": {"id": "call_1", "status": "completed"}}\r\n\r\n'
)


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_events_parse_however_the_bytes_are_cut() -> None:
    expected = [
        ("transcript", {"role": "caller", "text": "Hello?"}),
        ("end", {"call": {"id": "call_1", "status": "completed"}}),
    ]
    for size in (1, 2, 7, len(STREAM)):
        assert [event async for event in parse_sse(_chunks(STREAM, size))] == expected


def _call(lines: list[dict[str, Any]], **record: Any) -> dict[str, Any]:
    base = {
        "id": "call_0123456789abcdef",
        "direction": "outbound",
        "from_number": "+14155550100",
        "to_number": "+14155550123",
        "status": "completed",
        "end_reason": "model-ended",
        "duration_s": 12.345,
        "outcome": None,
    }
    return {"call": {**base, **record}, "active": False, "transcript": lines}


def test_long_transcripts_are_trimmed_head_and_tail() -> None:
    lines = [{"role": "caller", "text": f"line {n} " + "x" * 500} for n in range(100)]
    result = call_result(_call(lines))
    assert result.transcript_lines_omitted == 100 - MAX_LINES
    assert len(result.transcript) == MAX_LINES + 1  # with the marker
    assert result.transcript[0].startswith("callee: line 0 ")
    assert result.transcript[HEAD_LINES] == f"[… {100 - MAX_LINES} lines omitted …]"
    assert result.transcript[-1].startswith("callee: line 99 ")
    assert all(len(line) <= len("callee: ") + MAX_LINE_CHARS for line in result.transcript)
    assert result.duration_s == 12.3
    assert "reported no outcome" in result.summary


def test_roles_read_as_who_spoke() -> None:
    lines: list[dict[str, Any]] = [
        {"role": "caller", "text": "Who is this?"},
        {"role": "assistant", "text": "An AI assistant calling for Sam.", "interrupted": True},
        {"role": "system", "text": "pressed 1"},
    ]
    outbound = call_result(_call(lines)).transcript
    assert outbound == [
        "callee: Who is this?",
        "AI: An AI assistant calling for Sam. (cut off)",
        "[pressed 1]",
    ]
    inbound = call_result(_call(lines[:1], direction="inbound")).transcript
    assert inbound == ["caller: Who is this?"]


def test_progress_words() -> None:
    assert progress_message("call.status", {"data": {"status": "ringing"}}, "outbound") == (
        "ringing"
    )
    assert progress_message("status", {"data": {"status": "in-progress"}}, "outbound") == (
        "answered"
    )
    amd = {"data": {"answered_by": "machine_end_beep"}}
    assert progress_message("amd", amd, "outbound") == "an answering machine picked up"
    assert progress_message("amd", {"data": {"answered_by": "human"}}, "outbound") is None
    assert progress_message("voicemail", {"data": {}}, "outbound") == (
        "voicemail: leaving a message"
    )
    # The bridge's own "end" entry is not the end of the stream; the final record is.
    assert progress_message("end", {"data": {"reason": "model-ended"}}, "outbound") is None
    final = {"call": {"status": "no-answer", "end_reason": "no-answer"}}
    assert progress_message("end", final, "outbound") == "call ended: no-answer (no-answer)"
    assert progress_message("turn.latency", {"data": {"ms": 420}}, "outbound") is None


def test_api_errors_keep_the_api_message() -> None:
    error = api_error(429, {"error": {"code": "limit", "message": "limit reached\nmore"}})
    assert str(error) == "limit reached" and error.code == "limit" and error.status == 429
    assert not error.no_server
    assert str(api_error(502, "not json")) == "HTTP 502"
    assert "API token" in str(api_error(401, {"error": {"message": "unauthorized"}}))


def test_a_live_call_says_how_to_keep_following_it() -> None:
    live = _call([], status="in-progress", end_reason=None)
    live["active"] = True
    result = call_result(live)
    assert result.active and result.summary == "The call is in progress; it has not ended yet."
    assert result.next_step is not None
    assert 'get_call with call_id="call_0123456789abcdef"' in result.next_step
    assert f"waitSeconds={MAX_WAIT_S}" in result.next_step and "hang_up" in result.next_step
    assert call_result(_call([])).next_step is None


async def test_a_tool_gives_up_on_a_silent_server_with_one_clear_sentence() -> None:
    never = asyncio.Event()
    with pytest.raises(ToolError) as info:
        async with _bounded("reading call call_1", 0.01):
            await never.wait()
    assert str(info.value) == (
        "reading call call_1: the local voicecall-rt server did not answer within 0.01 s"
    )
