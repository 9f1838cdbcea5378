"""Typed application keys shared by the route modules."""

from __future__ import annotations

from aiohttp import web

from voicecall_rt.call.manager import CallManager
from voicecall_rt.call.scheduler import Scheduler
from voicecall_rt.carrier.base import CarrierWebhooks, StreamCodec
from voicecall_rt.config import Settings
from voicecall_rt.store.base import Store

SETTINGS = web.AppKey("settings", Settings)
MANAGER = web.AppKey("manager", CallManager)
STORE = web.AppKey("store", Store)
SCHEDULER = web.AppKey("scheduler", Scheduler)
API_TOKEN = web.AppKey("api_token", str)
CODEC = web.AppKey("codec", StreamCodec)
WEBHOOKS = web.AppKey("webhooks", CarrierWebhooks)
