"""`GET /live` and `GET /ready`: the probes a process supervisor or load balancer asks.

Live: the process answers at all (a failing liveness probe gets it restarted). Ready: it
takes new calls: not before it has started, and no longer once it drains for a restart
(call/drain.py), while live calls go on. Both are open without the API token, like the
carrier's webhooks: they say nothing but these flags and how many calls are live.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from voicecall_rt.web.keys import MANAGER


@dataclass
class Readiness:
    started: bool = False  # set by the server once it listens with everything wired


READINESS = web.AppKey("readiness", Readiness)


def setup(app: web.Application) -> None:
    app[READINESS] = Readiness()
    app.router.add_get("/live", live, allow_head=False)
    app.router.add_get("/ready", ready, allow_head=False)


def _json(data: dict[str, Any], status: int) -> web.Response:
    # A probe's answer must never come from a cache.
    return web.Response(
        body=orjson.dumps(data),
        status=status,
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


async def live(request: web.Request) -> web.Response:
    return _json({"live": True, "calls": request.app[MANAGER].active_count}, 200)


async def ready(request: web.Request) -> web.Response:
    manager = request.app[MANAGER]
    draining = manager.draining
    is_ready = request.app[READINESS].started and not draining
    body = {"ready": is_ready, "draining": draining, "calls": manager.active_count}
    return _json(body, 200 if is_ready else 503)
