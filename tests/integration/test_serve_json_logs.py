"""`voicecall-rt serve --log-format json`: stderr is one JSON object a line, and no secret."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import pytest

from tests.helpers.cli import free_port
from tests.helpers.serve_process import start_serve
from voicecall_rt.simulator.twilio.fake import ACCOUNT_SID, AUTH_TOKEN
from voicecall_rt.simulator.world import API_KEY, FROM_NUMBER

PUBLIC = "https://93.184.215.14"  # an IP literal: no DNS needed to start

pytestmark = pytest.mark.slow  # the real `serve` as a child process


async def test_serve_json_logs_are_json_lines_without_secrets(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'fromNumber = "{FROM_NUMBER}"\npublicUrl = "{PUBLIC}"\n'
        f'dataDir = "{tmp_path / "data"}"\n'
        f'[twilio]\naccountSid = "{ACCOUNT_SID}"\nauthToken = "{AUTH_TOKEN}"\n'
        f'[openai]\napiKey = "{API_KEY}"\n'
        f"[server]\nport = {free_port()}\n",
        encoding="utf-8",
    )
    server = await start_serve(config, "--log-format", "json")
    assert server.stderr is not None
    lines: list[bytes] = []
    try:
        async with asyncio.timeout(30):
            while not lines or b"Ctrl-C" not in lines[-1]:  # signal handlers are set
                line = await server.stderr.readline()
                assert line, b"".join(lines).decode()
                lines.append(line)
        server.send_signal(signal.SIGINT)
        async with asyncio.timeout(30):
            _, rest = await server.communicate()
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()
    assert server.returncode == 0
    text = b"".join(lines).decode() + rest.decode()
    entries = [json.loads(line) for line in text.splitlines()]
    assert {"time", "level", "logger", "message"} <= set(entries[0])
    messages = [e["message"] for e in entries]
    assert any("listening on" in m for m in messages)
    assert any("stopping" in m for m in messages)
    api_token = (tmp_path / "data" / "api-token").read_text().strip()
    for secret in (AUTH_TOKEN, API_KEY, api_token):
        assert secret not in text
