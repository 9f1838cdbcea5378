"""The bare relay again, on other server stacks: to pick a stack by numbers.

Each relay here does exactly what `bare_relay.py` does (read that first): connect the model
at `start` (`?model=gpt-realtime`, a Bearer key), read `session.created`, send
`bare_relay.SESSION`, then turn carrier `media` into `input_audio_buffer.append` and model
`response.output_audio.delta` into `media`, payload strings passed through (the two
messages: `bare_messages.py`); `stop` ends the call, and the model socket is closed at
the end. No compression, no keep-alive pings. Each stack is used on both sides where it
has a client:

- `bare-aiohttp` (`bare_aiohttp.py`): aiohttp's web server, and its
  `ClientSession.ws_connect` for the model.
- `bare-picows` (`bare_picows.py`): picows' server and client, callbacks instead of tasks;
  media that arrive while the model connects are buffered.
- `bare-starlette` (`bare_starlette.py`): a Starlette `WebSocketRoute` served by uvicorn
  (as Twilio's Python sample with FastAPI does), the `websockets` client for the model, as
  in `bare_relay.py`.
- `bare-aiohttp-picows` (`bare_picows.py`): aiohttp's server for the carrier (one port
  serves webhooks and streams, as ours must), picows' client for the model, deltas written
  to the carrier's transport from the callback: what swapping only the model side is worth.

Each `serve_*` is an async context manager like `bare_relay.serve`: it yields the port.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from benchmarks.bare_aiohttp import serve_aiohttp
from benchmarks.bare_picows import serve_aiohttp_picows, serve_picows
from benchmarks.bare_starlette import serve_starlette

ServeFn = Callable[[str, int, str, str], AbstractAsyncContextManager[int]]

# `--kind` names (target.py) → the relay
STACKS: dict[str, ServeFn] = {
    "bare-aiohttp": serve_aiohttp,
    "bare-picows": serve_picows,
    "bare-starlette": serve_starlette,
    "bare-aiohttp-picows": serve_aiohttp_picows,
}
