"""The fake Twilio's test bench: a tiny aiohttp app playing "our server", and REST calls.

The app records every webhook and media message the fake carrier sends it and verifies
every signature with twilio's own RequestValidator over the public URL, as our real
server does; waits are on its conditions, never on sleeps. The `server` fixture
(tests/unit/conftest.py) starts one per test.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from multidict import MultiDictProxy
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

from voicecall_rt.carrier.twilio.wire import TwilioStreamWriter
from voicecall_rt.simulator.scenario import CallPlan
from voicecall_rt.simulator.signing import SharedKey
from voicecall_rt.simulator.sim_call import SimCall
from voicecall_rt.simulator.twilio.carrier import FakeTwilio

ACCOUNT = "AC" + "0123456789abcdef" * 2
TOKEN = "test-auth-token"
PUBLIC = "https://voice.demo.test"
OUR_NUMBER = "+15550001111"
CALLEE = "+15550002222"
CALLS = f"/2010-04-01/Accounts/{ACCOUNT}/Calls.json"
TIMEOUT = 5.0

STREAM_TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Connect>'
    '<Stream url="wss://voice.demo.test/voice/stream"'
    f' statusCallback="{PUBLIC}/voice/stream-status">'
    '<Parameter name="call_token" value="tok-123"/><Parameter name="campaign" value="spring"/>'
    "</Stream></Connect></Response>"
)


@dataclass
class Hook:
    kind: str
    params: dict[str, str]
    signature_ok: bool
    host: str
    signature_settings: str | None = None
    # Every `…-Signature` header as sent (which header a carrier signs in).
    signatures: dict[str, str] = field(default_factory=dict)


class OurServer:
    """Records what the carrier sends; the tests drive the media socket directly."""

    def __init__(self) -> None:
        self.validator = RequestValidator(TOKEN)
        # The SharedKey webhooks may be signed with (the Auth Token when no header says so).
        self.shared_key: SharedKey | None = None
        self.cond = asyncio.Condition()
        self.hooks: list[Hook] = []
        self.twiml: Callable[[dict[str, str]], str] = lambda _params: STREAM_TWIML
        self.ws: web.WebSocketResponse | None = None
        self.ws_signature_ok: bool | None = None
        self.ws_query: str | None = None
        self.ws_signatures: dict[str, str] = {}
        self.ws_accepted_t = 0.0
        self.ws_log: list[tuple[float, dict[str, Any]]] = []
        self.ws_closed = False
        self.stream_sid: str | None = None
        # How our server writes on the stream: Twilio's; a compatible carrier's bench sets
        # its own (SignalWire's stream ids have another shape).
        self.writer_type: type[TwilioStreamWriter] = TwilioStreamWriter
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        for kind in ("answer", "status", "amd", "stream-status", "action"):
            app.router.add_post(f"/voice/{kind}", self._hook(kind))
        app.router.add_get("/voice/stream", self._stream)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        assert self._runner is not None
        await self._runner.cleanup()

    @property
    def tunnel(self) -> dict[str, str]:
        return {PUBLIC: f"http://127.0.0.1:{self.port}"}

    async def changed(self) -> None:
        async with self.cond:
            self.cond.notify_all()

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(TIMEOUT), self.cond:
            await self.cond.wait_for(predicate)

    def hooks_of(self, kind: str) -> list[Hook]:
        return [h for h in self.hooks if h.kind == kind]

    def messages(self, event: str) -> list[dict[str, Any]]:
        return [m for _, m in self.ws_log if m["event"] == event]

    def signature_ok(self, url: str, params: Any, request: web.Request) -> bool:
        """Checked as a server should: the Auth Token and SHA-1 unless the settings header
        announces a SharedKey, then that key's secret and the header's algorithm."""
        signature = request.headers.get(SIGNATURE_HEADER, "")
        settings = request.headers.get(SIGNATURE_SETTINGS_HEADER)
        if settings is None:
            return bool(self.validator.validate(url, params, signature))
        if self.shared_key is None:
            return False
        algorithm = get_signature_algorithm(settings)
        validator = RequestValidator(self.shared_key.secret)
        return bool(validator.validate(url, params, signature, algorithm=algorithm))

    def _hook(self, kind: str) -> Callable[[web.Request], Any]:
        async def handler(request: web.Request) -> web.Response:
            form = await request.post()
            assert isinstance(form, MultiDictProxy)
            ok = self.signature_ok(PUBLIC + request.raw_path, form, request)
            params = {k: str(v) for k, v in form.items()}
            settings = request.headers.get(SIGNATURE_SETTINGS_HEADER)
            signatures = _signature_headers(request)
            self.hooks.append(Hook(kind, params, ok, request.host, settings, signatures))
            await self.changed()
            if kind in ("answer", "action"):
                return web.Response(text=self.twiml(params), content_type="text/xml")
            return web.Response(status=204)

        return handler

    async def _stream(self, request: web.Request) -> web.WebSocketResponse:
        self.ws_signature_ok = self.signature_ok(
            f"wss://voice.demo.test{request.path}", {}, request
        )
        self.ws_query = request.query_string
        self.ws_signatures = _signature_headers(request)
        loop = asyncio.get_running_loop()
        # Before the handshake is answered: nothing the fake sends can precede it.
        self.ws_accepted_t = loop.time()
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.ws = ws
        async for message in ws:
            data = orjson.loads(message.data)
            self.ws_log.append((loop.time(), data))
            if data["event"] == "start":
                # Twilio names the stream at the top too; a compatible carrier (SignalWire)
                # only inside `start`.
                self.stream_sid = data["start"]["streamSid"]
            await self.changed()
        self.ws_closed = True
        await self.changed()
        return ws

    async def send(self, message: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send_str(orjson.dumps(message).decode())

    def writer(self) -> TwilioStreamWriter:
        """Our server's writer for the stream that started (messages as the bridge sends)."""
        assert self.stream_sid is not None, "no stream has started"
        return self.writer_type(self.stream_sid)

    async def send_audio(self, audio: bytes, chunk: int = 800) -> None:
        assert self.ws is not None
        writer = self.writer()
        for i in range(0, len(audio), chunk):
            await self.ws.send_str(writer.media(base64.b64encode(audio[i : i + chunk]).decode()))

    async def send_mark(self, name: str) -> None:
        assert self.ws is not None
        await self.ws.send_str(self.writer().mark(name))

    async def send_clear(self) -> None:
        assert self.ws is not None
        await self.ws.send_str(self.writer().clear)

    async def wait_started(self) -> None:
        await self.wait_for(lambda: self.stream_sid is not None)


def _signature_headers(request: web.Request) -> dict[str, str]:
    return {k: v for k, v in request.headers.items() if k.lower().endswith("-signature")}


def make_fake(
    server: OurServer, plans: Callable[[str], CallPlan] | CallPlan | None = None, **kwargs: Any
) -> FakeTwilio:
    return FakeTwilio(
        account_sid=ACCOUNT,
        auth_token=TOKEN,
        tunnel=server.tunnel,
        plans=plans if plans is not None else CallPlan(ring_ms=20),
        owned_numbers=(OUR_NUMBER,),
        **kwargs,
    )


def create_form(**extra: str) -> list[tuple[str, str]]:
    form = [
        ("To", CALLEE),
        ("From", OUR_NUMBER),
        ("Url", f"{PUBLIC}/voice/answer?leg=a%20b"),
        ("StatusCallback", f"{PUBLIC}/voice/status"),
    ]
    form += [("StatusCallbackEvent", e) for e in ("initiated", "ringing", "answered", "completed")]
    return form + list(extra.items())


async def rest(
    http: aiohttp.ClientSession,
    fake: FakeTwilio,
    method: str,
    path: str,
    data: list[tuple[str, str]] | None = None,
    auth: tuple[str, str] = (ACCOUNT, TOKEN),
) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": aiohttp.encode_basic_auth(*auth)}
    async with http.request(
        method, fake.api_base_url + path, data=data, headers=headers
    ) as response:
        return response.status, await response.json()


async def dial(
    http: aiohttp.ClientSession,
    fake: FakeTwilio,
    *,
    path: str = CALLS,
    auth: tuple[str, str] = (ACCOUNT, TOKEN),
    **extra: str,
) -> SimCall:
    """Create a call over REST (`path`, `auth`: a compatible carrier's); `extra`: more form
    fields."""
    status, body = await rest(http, fake, "POST", path, create_form(**extra), auth)
    assert status == 201, body
    call = await fake.wait_call(TIMEOUT)
    assert call.sid == body["sid"]
    return call


async def hang_up_via_rest(
    http: aiohttp.ClientSession,
    fake: FakeTwilio,
    call: SimCall,
    *,
    calls: str = CALLS,
    auth: tuple[str, str] = (ACCOUNT, TOKEN),
) -> None:
    """`Status=completed` on the call (`calls`, `auth`: a compatible carrier's)."""
    path = calls.removesuffix(".json") + f"/{call.sid}.json"
    status, body = await rest(http, fake, "POST", path, [("Status", "completed")], auth)
    assert status == 200, body
    async with asyncio.timeout(TIMEOUT):
        await call.ended.wait()
