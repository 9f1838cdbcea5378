"""A stand-in for the model behind an OpenClaw agent: an OpenAI-compatible
`POST /v1/chat/completions` on loopback that records every request and answers each turn
with one fixed line. The real gateway, configured to use it, runs its agent turns offline,
and a test reads exactly what the agent was given (its prompt, its tools)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Self

import orjson
from aiohttp import web

REPLY = "HEARTBEAT_OK"  # what a heartbeat turn answers when there is nothing to do


class FakeChatModel:
    """`async with FakeChatModel() as model:` then point a provider at `model.base_url`."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout_s: float
    ) -> dict[str, Any]:
        """The first request (already seen or still to come) that `predicate` accepts."""
        async with asyncio.timeout(timeout_s), self._changed:
            while True:
                for request in self.requests:
                    if predicate(request):
                        return request
                await self._changed.wait()

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return web.json_response({"error": {"message": "invalid JSON"}}, status=400)
        if not isinstance(body, dict) or not body.get("model") or not body.get("messages"):
            return web.json_response({"error": {"message": "model and messages"}}, status=400)
        async with self._changed:
            self.requests.append(body)
            self._changed.notify_all()
        usage = {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}
        base = {"id": "chatcmpl-fake", "created": 1, "model": body["model"]}
        if not body.get("stream"):
            message = {"role": "assistant", "content": REPLY}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            return web.json_response(
                {**base, "object": "chat.completion", "choices": [choice], "usage": usage}
            )
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        chunk = {**base, "object": "chat.completion.chunk"}
        delta = {"role": "assistant", "content": REPLY}
        for data in (
            {**chunk, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
            {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            | {"usage": usage},
        ):
            await response.write(b"data: " + orjson.dumps(data) + b"\n\n")
        await response.write(b"data: [DONE]\n\n")
        return response


def text_of(request: dict[str, Any]) -> str:
    """Everything the model was given in one request, as text."""
    parts: list[str] = []
    for message in request.get("messages", []):
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return "\n".join(parts)
