"""`bare-starlette`: the bare relay (`bare_stacks.py`) as a Starlette `WebSocketRoute`
served by uvicorn (as Twilio's Python sample with FastAPI does), the `websockets` client
for the model, as in `bare_relay.py`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Generator

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from benchmarks.bare_messages import MAX_SIZE, PATH, delta_media, media_append
from benchmarks.bare_relay import open_model


async def _model_to_carrier(model: ClientConnection, carrier: WebSocket, sid: str) -> None:
    async for text in model:
        out = delta_media(orjson.loads(text), sid)
        if out is not None:
            await carrier.send_text(out.decode())  # ASGI text frames are str


def _starlette_app(model_url: str, api_key: str) -> Starlette:
    async def relay(carrier: WebSocket) -> None:
        await carrier.accept()
        model: ClientConnection | None = None
        pump: asyncio.Task[None] | None = None
        try:
            async for text in carrier.iter_text():
                message = orjson.loads(text)
                event = message.get("event")
                if event == "media" and model is not None:
                    await model.send(media_append(message), text=True)
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
                with contextlib.suppress(
                    asyncio.CancelledError, ConnectionClosed, WebSocketDisconnect
                ):
                    await pump
            if model is not None:
                await model.close()
            if carrier.client_state is WebSocketState.CONNECTED:
                with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                    await carrier.close()

    return Starlette(routes=[WebSocketRoute(PATH, relay)])


class _Uvicorn(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # SIGTERM/SIGINT belong to target.py, which stops this server itself


@contextlib.asynccontextmanager
async def serve_starlette(host: str, port: int, model_url: str, api_key: str) -> AsyncIterator[int]:
    """Starlette on uvicorn for the carrier, the `websockets` client for the model."""
    # `Server.serve()` runs on the running loop (target.py's: asyncio, or uvloop with
    # `--loop uvloop`); `loop=` is said to match it, since uvicorn's "auto" means uvloop.
    on_uvloop = type(asyncio.get_running_loop()).__module__.startswith("uvloop")
    config = uvicorn.Config(
        _starlette_app(model_url, api_key),
        host=host,
        port=port,
        loop="uvloop" if on_uvloop else "asyncio",
        ws="websockets-sansio",  # what ws="auto" picks when websockets is installed
        ws_max_size=MAX_SIZE,
        ws_ping_interval=None,
        ws_per_message_deflate=False,
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    server = _Uvicorn(config)
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if serving.done():
                serving.result()  # raises what went wrong
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.01)
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        await serving
