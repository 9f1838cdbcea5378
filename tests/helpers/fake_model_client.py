"""A small Realtime WebSocket client for the fake model's unit tests (no bridge involved).

It records every server event and lets a test wait on a condition, never on a sleep. Every
check of a server event's shape goes through the openai SDK's own types.
"""

from __future__ import annotations

import asyncio
import base64
import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import orjson
import pydantic
from openai.types.realtime import RealtimeServerEvent

from voicecall_rt.audio import g711
from voicecall_rt.simulator.openai.server import FakeRealtimeServer
from voicecall_rt.simulator.openai.server_event_check import check_server_event

KEY = "sk-test"

GA_UPDATE: dict[str, Any] = {
    "type": "session.update",
    "event_id": "evt_update_1",
    "session": {
        "type": "realtime",
        "output_modalities": ["audio"],
        "instructions": "You are a polite phone agent.",
        "audio": {
            "input": {
                "format": {"type": "audio/pcmu"},
                "noise_reduction": {"type": "near_field"},
                "transcription": {"model": "gpt-4o-mini-transcribe", "language": "en"},
                "turn_detection": {"type": "semantic_vad", "eagerness": "auto"},
            },
            "output": {"format": {"type": "audio/pcmu"}, "voice": "marin"},
        },
        "tools": [
            {
                "type": "function",
                "name": "end_call",
                "description": "Hang up when the conversation is over.",
                "parameters": {
                    "type": "object",
                    "properties": {"reason": {"type": "string"}},
                    "required": ["reason"],
                },
            }
        ],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
    },
}

BETA_UPDATE: dict[str, Any] = {
    "type": "session.update",
    "session": {"modalities": ["audio"], "input_audio_format": "g711_ulaw"},
}

# A scripted answer long enough to be still streaming when a test cancels or interrupts it.
LONG = "A very long answer that goes on and on " * 10

_SERVER_EVENT = pydantic.TypeAdapter(RealtimeServerEvent)


# ---- helpers -------------------------------------------------------------------------------


class Client:
    """A WebSocket client that records every server event and lets tests wait on them."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        self.closed = False
        self._changed = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                self.events.append(orjson.loads(msg.data))
                async with self._changed:
                    self._changed.notify_all()
        self.closed = True
        async with self._changed:
            self._changed.notify_all()

    async def send(self, event: dict[str, Any]) -> None:
        await self.ws.send_str(orjson.dumps(event).decode())

    async def wait(self, predicate: Callable[[], bool], timeout_s: float = 3) -> None:
        async with asyncio.timeout(timeout_s), self._changed:
            await self._changed.wait_for(predicate)

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == type_]

    async def wait_type(self, type_: str, count: int = 1) -> dict[str, Any]:
        """The `count`-th event of this type, once it has arrived."""
        await self.wait(lambda: len(self.of_type(type_)) >= count or self.closed)
        found = self.of_type(type_)
        assert len(found) >= count, f"socket closed before {type_} #{count}: {self.types()}"
        return found[count - 1]

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]

    def index(self, type_: str, count: int = 1) -> int:
        """Position in `events` of the `count`-th event of this type."""
        seen = 0
        for position, event in enumerate(self.events):
            if event["type"] == type_:
                seen += 1
                if seen == count:
                    return position
        raise AssertionError(f"no {type_} #{count} in {self.types()}")

    async def close(self) -> None:
        await self.ws.close()
        await self._reader


@asynccontextmanager
async def connect(
    server: FakeRealtimeServer,
    *,
    key: str = KEY,
    model: str = "gpt-realtime",
    extra_headers: dict[str, str] | None = None,
) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {key}", **(extra_headers or {})}
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(server.realtime_url, params={"model": model}, headers=headers)
        client = Client(ws)
        try:
            yield client
        finally:
            await client.close()


async def configured(client: Client, **session: Any) -> None:
    """session.created, then GA_UPDATE (with `session` keys replaced) confirmed."""
    await client.wait_type("session.created")
    await client.send({**GA_UPDATE, "session": {**GA_UPDATE["session"], **session}})
    await client.wait_type("session.updated")


def vad(turn_detection: dict[str, Any], transcription: Any = None) -> dict[str, Any]:
    """`configured` keyword for an `audio` block with this turn detection (µ-law both ways)."""
    audio = GA_UPDATE["session"]["audio"]
    input_ = {**audio["input"], "turn_detection": turn_detection}
    if transcription is not None:
        input_["transcription"] = transcription
    return {"audio": {**audio, "input": input_}}


async def send_audio(client: Client, ulaw: bytes, frame_ms: int = 20) -> None:
    """Send µ-law the way Twilio does: one append per 20 ms frame."""
    step = frame_ms * 8
    for i in range(0, len(ulaw), step):
        chunk = base64.b64encode(ulaw[i : i + step]).decode()
        await client.send({"type": "input_audio_buffer.append", "audio": chunk})


def compress_runs(types: list[str]) -> list[str]:
    """Collapse runs of deltas so sequences read like docs/protocols.md §1.7."""
    out: list[str] = []
    for t in types:
        if t.endswith(".delta") and out and out[-1] == t + "*":
            continue
        out.append(t + "*" if t.endswith(".delta") else t)
    return out


def silence(ms: int) -> bytes:
    return bytes([g711.SILENCE]) * 8 * ms


def assert_sdk_valid(
    events: list[dict[str, Any]], server: FakeRealtimeServer | None = None
) -> None:
    """Every server event parses with the SDK's whole `RealtimeServerEvent` union and with
    its own variant, with no undeclared keys except the server-only session fields (`id`,
    `object`, `expires_at`) the API adds; and the server flagged none of its own."""
    for event in events:
        assert event["event_id"].startswith("event_")
        _SERVER_EVENT.validate_python(event)
        assert check_server_event(event) is None, (event, check_server_event(event))
    if server is not None:
        assert server.malformed == []


def rms(ulaw: bytes) -> float:
    samples = g711.decode(ulaw)
    return math.sqrt(sum(s * s for s in samples) / len(samples))


def goertzel_power(samples: Any, freq: float, rate: int = 8000) -> float:
    coeff = 2 * math.cos(2 * math.pi * freq / rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    return s1 * s1 + s2 * s2 - coeff * s1 * s2
