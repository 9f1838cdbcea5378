"""The yardstick: a bare Twilio ⇄ Realtime relay (`websockets` + `orjson`), no features.

It passes payload strings through and does nothing else: no tokens, marks, playback
accounting, barge-in, transcripts, store or metrics; it connects the model when the
stream starts (no pre-warm). Our server must cost less CPU per frame than this.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection
from websockets.asyncio.server import serve as ws_serve
from websockets.exceptions import ConnectionClosed

SESSION = {
    "type": "session.update",
    "session": {
        "type": "realtime",
        "output_modalities": ["audio"],
        "audio": {
            "input": {"format": {"type": "audio/pcmu"}, "turn_detection": {"type": "server_vad"}},
            "output": {"format": {"type": "audio/pcmu"}, "voice": "coral"},
        },
    },
}


async def _model_to_carrier(model: ClientConnection, carrier: ServerConnection, sid: str) -> None:
    async for text in model:
        event = orjson.loads(text)
        if event.get("type") == "response.output_audio.delta":
            out = {"event": "media", "streamSid": sid, "media": {"payload": event["delta"]}}
            await carrier.send(orjson.dumps(out), text=True)


async def open_model(model_url: str, api_key: str) -> ClientConnection:
    """Connect the model (`websockets` client) and configure its session."""
    model = await connect(
        model_url + "?model=gpt-realtime",
        additional_headers={"Authorization": f"Bearer {api_key}"},
        compression=None,
        ping_interval=None,
        proxy=None,
        max_size=2**24,
    )
    await model.recv()  # session.created
    await model.send(orjson.dumps(SESSION), text=True)
    return model


def handler(model_url: str, api_key: str) -> Callable[[ServerConnection], Awaitable[None]]:
    async def relay(carrier: ServerConnection) -> None:
        model: ClientConnection | None = None
        pump: asyncio.Task[None] | None = None
        try:
            async for text in carrier:
                message = orjson.loads(text)
                event = message.get("event")
                if event == "media" and model is not None:
                    append = {
                        "type": "input_audio_buffer.append",
                        "audio": message["media"]["payload"],
                    }
                    await model.send(orjson.dumps(append), text=True)
                elif event == "start":
                    model = await open_model(model_url, api_key)
                    pump = asyncio.create_task(
                        _model_to_carrier(model, carrier, message["streamSid"])
                    )
                elif event == "stop":
                    break
        except ConnectionClosed:
            pass
        finally:
            if pump is not None:
                pump.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                    await pump
            if model is not None:
                await model.close()

    return relay


@contextlib.asynccontextmanager
async def serve(host: str, port: int, model_url: str, api_key: str) -> AsyncIterator[int]:
    """Serve the stream protocol on `host:port` (0: any); yields the real port."""
    async with ws_serve(
        handler(model_url, api_key), host, port, compression=None, ping_interval=None
    ) as server:
        yield next(iter(server.sockets)).getsockname()[1]
