"""A client for the running server's local API, shared by the CLI and the MCP server.

The bearer token is read from the data dir on every request, so a client made before the
server first started works once it is up. Every failure is a `LocalApiError` whose message
is meant for people; `no_server` tells "nothing is listening" apart from an API refusal.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from voicecall_rt.config import Settings
from voicecall_rt.private_files import read_api_token

START_HINT = "start one with `voicecall-rt serve`"
# The event stream sends a keepalive comment every 15 s: a minute of silence is a dead server.
STREAM_READ_TIMEOUT_S = 60.0
MAX_EVENT_BYTES = 4 * 1024 * 1024


class LocalApiError(Exception):
    """The local API could not be reached or refused the request (message for people)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        no_server: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.no_server = no_server


class LocalClient:
    """`await client.request("GET", "/api/calls")`; `async for kind, data in client.follow(id)`."""

    def __init__(self, base_url: str, data_dir: Path) -> None:
        self.base = base_url.rstrip("/")
        self.data_dir = data_dir

    @classmethod
    def for_settings(cls, settings: Settings) -> LocalClient:
        return cls(settings.local_url, settings.data_dir)

    def has_token(self) -> bool:
        return read_api_token(self.data_dir) is not None

    def _headers(self) -> dict[str, str]:
        token = read_api_token(self.data_dir)
        if token is None:
            raise LocalApiError(
                f"no server has run with data dir {self.data_dir}; {START_HINT}",
                no_server=True,
            )
        return {"Authorization": f"Bearer {token}"}

    def _not_running(self) -> LocalApiError:
        return LocalApiError(
            f"no voicecall-rt server is running at {self.base}"
            " (start it with `voicecall-rt serve`)",
            no_server=True,
        )

    async def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        timeout_s: float = 90.0,
    ) -> Any:
        """The decoded JSON answer; an HTTP error status raises with the API's message."""
        headers = self._headers()
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as http,
                http.request(
                    method,
                    self.base + path,
                    headers=headers,
                    data=orjson.dumps(body) if body is not None else None,
                ) as response,
            ):
                raw = await response.read()
                status = response.status
            data = orjson.loads(raw or b"{}")
        except aiohttp.ClientConnectorError:
            raise self._not_running() from None
        except (aiohttp.ClientError, TimeoutError, orjson.JSONDecodeError) as exc:
            raise LocalApiError(
                f"the local server did not answer properly: {type(exc).__name__}"
            ) from None
        if status >= 400:
            raise api_error(status, data)
        return data

    async def follow(self, call_id: str) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """A call's server-sent events, `(kind, data)`: its history, then live until it
        settles (the last one is `("end", {"call": ...})`). Ends early if the server goes."""
        headers = {**self._headers(), "Accept": "text/event-stream"}
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=10, sock_read=STREAM_READ_TIMEOUT_S
        )
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as http,
                http.get(f"{self.base}/api/calls/{call_id}/events", headers=headers) as response,
            ):
                if response.status >= 400:
                    try:
                        data = orjson.loads(await response.read() or b"{}")
                    except orjson.JSONDecodeError:
                        data = {}
                    raise api_error(response.status, data)
                async for event in parse_sse(response.content.iter_any()):
                    yield event
        except aiohttp.ClientConnectorError:
            raise self._not_running() from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise LocalApiError(
                f"lost the local server's event stream: {type(exc).__name__}"
            ) from None


def api_error(status: int, data: Any) -> LocalApiError:
    error = data.get("error", {}) if isinstance(data, dict) else {}
    if not isinstance(error, dict):
        error = {}
    message = str(error.get("message") or f"HTTP {status}").splitlines()[0]
    code = error.get("code")
    if status == 401:
        message += (
            " (the local server did not accept the API token from the data dir: is it"
            " running with the same config?)"
        )
    return LocalApiError(message, status=status, code=code if isinstance(code, str) else None)


async def parse_sse(chunks: AsyncIterator[bytes]) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """Server-sent events from a byte stream cut anywhere: `(event name, JSON object data)`.
    Comments (keepalives) and data that is not a JSON object are skipped."""
    buffer = b""
    kind = "message"
    data_lines: list[bytes] = []
    async for chunk in chunks:
        *lines, buffer = (buffer + chunk).split(b"\n")
        if len(buffer) > MAX_EVENT_BYTES:
            raise LocalApiError("the local server sent an oversized event")
        for raw in lines:
            line = raw.rstrip(b"\r")
            if not line:
                if data_lines:
                    try:
                        data = orjson.loads(b"\n".join(data_lines))
                    except orjson.JSONDecodeError:
                        data = None
                    if isinstance(data, dict):
                        yield kind, data
                kind, data_lines = "message", []
            elif line.startswith(b":"):
                continue
            else:
                field, _, value = line.partition(b":")
                value = value.removeprefix(b" ")
                if field == b"event":
                    kind = value.decode("utf-8", "replace")
                elif field == b"data":
                    data_lines.append(value)
