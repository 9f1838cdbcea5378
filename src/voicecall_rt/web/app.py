"""Wiring: the routes, and `Server`, which owns every long-lived resource of a running service."""

from __future__ import annotations

import logging

from aiohttp import web

from voicecall_rt.call import routes
from voicecall_rt.call.journal import Hub
from voicecall_rt.call.manager import CallManager
from voicecall_rt.call.scheduler import Scheduler
from voicecall_rt.carrier.parts import Carrier
from voicecall_rt.carrier.registry import build_carrier
from voicecall_rt.cluster.build import build_cluster, build_feed
from voicecall_rt.cluster.feed import RemoteFeed
from voicecall_rt.config import Settings
from voicecall_rt.logs import add_secrets
from voicecall_rt.notify import Notifier
from voicecall_rt.pricing import call_cost
from voicecall_rt.private_files import adopt_api_token, ensure_api_token, ensure_private_dir
from voicecall_rt.public_url import Resolver, system_resolver
from voicecall_rt.store import Store, open_store
from voicecall_rt.web import api, dashboard, health, schedules_api, stream, webhooks
from voicecall_rt.web import metrics as web_metrics
from voicecall_rt.web.keys import API_TOKEN, CODEC, MANAGER, SCHEDULER, SETTINGS, STORE, WEBHOOKS

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 64 * 1024


def build_app(
    settings: Settings,
    manager: CallManager,
    store: Store,
    api_token: str,
    carrier: Carrier,
    scheduler: Scheduler | None = None,
) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[api.require_token])
    app[SETTINGS] = settings
    app[MANAGER] = manager
    app[SCHEDULER] = scheduler or Scheduler(manager)  # not started: places nothing by itself
    app[STORE] = store
    app[API_TOKEN] = api_token
    app[CODEC] = carrier.codec
    app[WEBHOOKS] = carrier.webhooks
    app.router.add_get(routes.ANSWER_PATH, webhooks.answer_health, allow_head=False)
    app.router.add_post(routes.ANSWER_PATH, webhooks.answer)
    app.router.add_post(routes.STATUS_PATH, webhooks.status)
    app.router.add_post(routes.AMD_PATH, webhooks.amd)
    app.router.add_post(routes.TRANSFER_PATH, webhooks.transfer)
    app.router.add_get(routes.STREAM_PATH, stream.media_stream, allow_head=False)
    app.router.add_post("/api/calls", api.place_call)
    app.router.add_get("/api/calls", api.list_calls, allow_head=False)
    app.router.add_get("/api/calls/{call_id}", api.get_call, allow_head=False)
    app.router.add_post("/api/calls/{call_id}/hangup", api.hang_up)
    app.router.add_get("/api/calls/{call_id}/events", api.call_events, allow_head=False)
    schedules_api.setup(app)
    dashboard.setup(app)  # `/`, login, the page's files, debug recordings
    app.router.add_get("/api/openapi.json", api.openapi, allow_head=False)
    health.setup(app)  # `/live`, `/ready`: open, like the webhooks
    return app


class Server:
    """Store, HTTP client, carrier, call manager and the listening socket, started and
    stopped together."""

    def __init__(self, settings: Settings, *, resolver: Resolver = system_resolver) -> None:
        self.settings = settings
        self.hub = Hub()
        self._resolver = resolver
        self._runner: web.AppRunner | None = None
        self._carrier: Carrier | None = None
        self._store: Store | None = None
        self._manager: CallManager | None = None
        # Places scheduled calls and retries (call/scheduler.py), beside the manager.
        self.scheduler: Scheduler | None = None
        # Other instances' calls, for the followers here (None when alone).
        self._feed: RemoteFeed | None = None
        # Pushes each settled call's result to `notify.url` (None when that is unset).
        self.notifier: Notifier | None = None
        # `GET /metrics`: this server's own registry, fed by the hub (web/metrics.py).
        self.metrics: web_metrics.CallMetrics | None = None
        self.port: int = settings.server.port
        self.api_token = ""

    @property
    def manager(self) -> CallManager:
        assert self._manager is not None, "server not started"
        return self._manager

    @property
    def store(self) -> Store:
        assert self._store is not None, "server not started"
        return self._store

    @property
    def local_url(self) -> str:
        host = self.settings.server.bind
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        settings = self.settings
        ensure_private_dir(settings.data_dir)
        self._store = await open_store(settings)
        self.api_token = ensure_api_token(settings.data_dir)
        add_secrets(self.api_token)  # never in a log line
        if settings.notify.url is not None:  # subscribed before any call can settle
            self.notifier = Notifier(
                settings.notify,
                self._store,
                self.hub,
                cost_of=lambda record: call_cost(record, settings),  # the result carries it
            )
            self.notifier.start()
        self._carrier = carrier = build_carrier(settings)
        cluster = build_cluster(settings, self._store)
        shared = await cluster.shared_api_token(self.api_token)
        if shared != self.api_token:  # another instance's: this machine's clients need it
            adopt_api_token(settings.data_dir, shared)
            self.api_token = shared
            add_secrets(shared)
        self._manager = CallManager(
            settings, self._store, self.hub, carrier.api, self._resolver, cluster=cluster
        )
        self.metrics = web_metrics.CallMetrics(self._manager)
        self.metrics.attach(self.hub)  # before any call can start
        await self._manager.start()
        self.scheduler = Scheduler(self._manager)
        self._feed = build_feed(self._store, self.hub, self._manager.is_active)
        if self._feed is not None:
            await self._feed.start()
        app = build_app(
            settings, self._manager, self._store, self.api_token, carrier, self.scheduler
        )
        web_metrics.setup(app, self.metrics)
        self._runner = web.AppRunner(app, access_log=log if settings.debug else None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, settings.server.bind, settings.server.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])  # the real port when 0 was asked
        log.info("listening on %s", self.local_url)
        app[health.READINESS].started = True  # `/ready` says 200 from now on
        # Once listening: a due call it places at once has its webhooks answered.
        self.scheduler.start()

    async def stop(self) -> None:
        if self._feed is not None:
            await self._feed.stop()
            self._feed = None
        if self.scheduler is not None:  # first: it would place calls the shutdown ends
            await self.scheduler.stop()
            self.scheduler = None
        if self._manager is not None:
            await self._manager.shutdown()
        if self.notifier is not None:  # after the shutdown: calls it settled are delivered too
            await self.notifier.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._carrier is not None:
            await self._carrier.close()
            self._carrier = None
        if self._store is not None:
            await self._store.close()
            self._store = None
        if self.metrics is not None:
            self.metrics.detach(self.hub)
