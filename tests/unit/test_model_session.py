"""Opening a session the call can rely on (model/session.py), against the fake Realtime
server on 127.0.0.1: ready only once `session.updated` confirms µ-law both ways."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from voicecall_rt.config import VadSettings
from voicecall_rt.model import realtime
from voicecall_rt.model.base import ModelConnectError, SessionRefused
from voicecall_rt.model.realtime import EventIds
from voicecall_rt.model.session import SessionTarget, open_session
from voicecall_rt.simulator.openai.server import FakeRealtimeServer
from voicecall_rt.simulator.scenario import ModelScript

KEY = "sk-test-session-0123456789"


def _update(**overrides: Any) -> dict[str, Any]:
    update = realtime.session_update(
        instructions="Be brief.",
        voice="coral",
        vad=VadSettings(),
        tools=[],
        transcription_model="gpt-transcribe",
    )
    update["session"].update(overrides)
    EventIds().stamp(update)
    return update


class Retries:
    def __init__(self) -> None:
        self.seen: list[tuple[int, str]] = []

    def __call__(self, attempt: int, error: str) -> None:
        self.seen.append((attempt, error))


async def test_ready_only_after_the_update_is_confirmed() -> None:
    async with FakeRealtimeServer(ModelScript(), api_key=KEY) as server:
        target = SessionTarget(server.realtime_url, "gpt-realtime", KEY)
        update = _update()
        opened = await open_session(target, update, on_retry=Retries())
        session = server.last_session
        # The update went out once, with its event id, before the session was handed over.
        assert session.received_types() == ["session.update"]
        assert session.received[0]["event_id"] == update["event_id"] == "c1"
        assert session.sent_types()[:2] == ["session.created", "session.updated"]
        fmt = session.config["audio"]
        assert fmt["input"]["format"]["type"] == fmt["output"]["format"]["type"] == "audio/pcmu"
        assert opened.session_id == session.id
        # The fake's sessions last 60 minutes, like the real ones.
        assert opened.lifetime_s is not None and 3500 < opened.lifetime_s <= 3600
        assert [orjson.loads(raw)["type"] for raw in opened.seen] == [
            "session.created",
            "session.updated",
        ]
        got: list[bytes] = []
        closed = asyncio.Event()
        opened.attach(got.append, closed.set)
        await opened.link.close()
        await asyncio.wait_for(closed.wait(), 5)


async def test_a_refused_update_names_openai_s_reason() -> None:
    async with FakeRealtimeServer(ModelScript(), api_key=KEY) as server:
        target = SessionTarget(server.realtime_url, "gpt-realtime", KEY)
        bad = _update(output_modalities=["audio", "text"])
        with pytest.raises(SessionRefused, match="output_modalities") as caught:
            await open_session(target, bad, on_retry=Retries())
        assert KEY not in str(caught.value)
        await server.wait_for(lambda: server.last_session.closed.is_set())
        # The server echoed our event id: the error answers the update.
        error = next(e for e in server.last_session.sent if e["type"] == "error")
        assert error["error"]["event_id"] == bad["event_id"]


async def test_a_session_left_on_pcm_is_refused() -> None:
    async with FakeRealtimeServer(ModelScript(), api_key=KEY) as server:
        target = SessionTarget(server.realtime_url, "gpt-realtime", KEY)
        update = _update()
        del update["session"]["audio"]["output"]["format"]  # the server keeps its default
        with pytest.raises(SessionRefused, match=r"audio/pcmu in and audio/pcm out"):
            await open_session(target, update, on_retry=Retries())


async def test_an_unknown_model_is_refused_without_retrying() -> None:
    retries = Retries()
    async with FakeRealtimeServer(ModelScript(), api_key=KEY) as server:
        target = SessionTarget(server.realtime_url, "gpt-no-such-model", KEY)
        with pytest.raises(SessionRefused, match="model_not_found"):
            await open_session(target, _update(), on_retry=retries)
        assert len(server.sessions) == 1
    assert retries.seen == []


@pytest.mark.slow  # real retry back-off
async def test_overloaded_upgrades_are_retried_then_given_up() -> None:
    retries = Retries()
    async with FakeRealtimeServer(ModelScript(), api_key=KEY) as server:
        target = SessionTarget(server.realtime_url, "gpt-realtime", KEY)
        server.refuse_next = 1
        opened = await open_session(target, _update(), on_retry=retries)
        await opened.link.close()
        assert [attempt for attempt, _ in retries.seen] == [1]
        assert "HTTP 503" in retries.seen[0][1]

        server.refuse_next = 3
        with pytest.raises(ModelConnectError, match="HTTP 503"):
            await open_session(target, _update(), on_retry=retries)
        assert server.refused == 4
