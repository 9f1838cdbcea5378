"""The `mcp` package's own client driving `voicecall-rt mcp` as a child process over stdio,
as an agent would, and readers of its tool results."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.types import CallToolResult, TextContent


@asynccontextmanager
async def mcp_client(config: Path) -> AsyncIterator[Client]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-c", "from voicecall_rt.cli import main; main()", "mcp", "--config", str(config)],
    )
    async with Client(params) as client:
        yield client


def text_of(result: CallToolResult) -> str:
    assert len(result.content) == 1 and isinstance(result.content[0], TextContent)
    return result.content[0].text


def ok(result: CallToolResult) -> dict[str, Any]:
    """A successful tool result: structured content, and the same as JSON text."""
    assert not result.is_error, text_of(result)
    assert isinstance(result.structured_content, dict), result.structured_content
    assert json.loads(text_of(result)) == result.structured_content
    return result.structured_content


def error(result: CallToolResult) -> str:
    assert result.is_error, result
    message = text_of(result)
    assert "Traceback" not in message
    return message
