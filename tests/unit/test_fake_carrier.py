"""The fake Twilio, checked against a tiny aiohttp app playing "our server".

Everything runs over real loopback sockets; the app verifies every signature with twilio's
own RequestValidator over the public URL, as our real server does. Waiting is always on
conditions (the app's or the SimCall's), never on sleeps.
"""

from __future__ import annotations

import asyncio
import base64
import math
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from multidict import MultiDictProxy
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)
from twilio.rest import Client

from voicecall_rt.audio import dtmf, g711
from voicecall_rt.audio.goertzel import DtmfDetector
from voicecall_rt.simulator.caller_audio import voice_audio
from voicecall_rt.simulator.keypad import key_frames
from voicecall_rt.simulator.line import Line
from voicecall_rt.simulator.scenario import (
    CallPlan,
    HangUp,
    PressKeys,
    Speak,
    WaitForDigits,
    WaitForModel,
)
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


def rms(ulaw: bytes) -> float:
    samples = g711.decode(ulaw)
    return math.sqrt(sum(s * s for s in samples) / max(1, len(samples)))


@dataclass
class Hook:
    kind: str
    params: dict[str, str]
    signature_ok: bool
    host: str
    signature_settings: str | None = None


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
        self.ws_accepted_t = 0.0
        self.ws_log: list[tuple[float, dict[str, Any]]] = []
        self.ws_closed = False
        self.stream_sid: str | None = None
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
            self.hooks.append(Hook(kind, params, ok, request.host, settings))
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
                self.stream_sid = data["streamSid"]
            await self.changed()
        self.ws_closed = True
        await self.changed()
        return ws

    async def send(self, message: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send_str(orjson.dumps(message).decode())

    async def send_audio(self, audio: bytes, chunk: int = 800) -> None:
        for i in range(0, len(audio), chunk):
            payload = base64.b64encode(audio[i : i + chunk]).decode()
            await self.send(
                {"event": "media", "streamSid": self.stream_sid, "media": {"payload": payload}}
            )

    async def send_mark(self, name: str) -> None:
        await self.send({"event": "mark", "streamSid": self.stream_sid, "mark": {"name": name}})

    async def wait_started(self) -> None:
        await self.wait_for(lambda: self.stream_sid is not None)


@pytest.fixture
async def server() -> AsyncIterator[OurServer]:
    srv = OurServer()
    await srv.start()
    yield srv
    await srv.stop()


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


async def dial(http: aiohttp.ClientSession, fake: FakeTwilio, **extra: str) -> SimCall:
    status, body = await rest(http, fake, "POST", CALLS, create_form(**extra))
    assert status == 201, body
    call = await fake.wait_call(TIMEOUT)
    assert call.sid == body["sid"]
    return call


async def hang_up_via_rest(http: aiohttp.ClientSession, fake: FakeTwilio, call: SimCall) -> None:
    path = f"/2010-04-01/Accounts/{ACCOUNT}/Calls/{call.sid}.json"
    status, body = await rest(http, fake, "POST", path, [("Status", "completed")])
    assert status == 200, body
    async with asyncio.timeout(TIMEOUT):
        await call.ended.wait()


# ---- REST --------------------------------------------------------------------------------


async def test_rest_auth_validation_and_lookups(
    server: OurServer, http: aiohttp.ClientSession
) -> None:
    async with make_fake(server) as fake:
        status, body = await rest(http, fake, "POST", CALLS, create_form(), (ACCOUNT, "nope"))
        assert status == 401
        assert body["code"] == 20003 and body["message"] == "Authenticate"
        assert body["status"] == 401 and body["more_info"].startswith("https://")

        cases = [
            ([("To", "5550002222")], 21211),
            ([("From", "+15559999999")], 21212),
            ([("Url", "")], 21205),
            ([("Timeout", "soon")], 20001),
            ([("StatusCallbackEvent", "dancing")], 20001),
        ]
        for override, code in cases:
            names = {name for name, _ in override}
            form = [(k, v) for k, v in create_form() if k not in names] + override
            status, body = await rest(http, fake, "POST", CALLS, form)
            assert (status, body["code"]) == (400, code), (override, body)
        assert fake.created == [] and fake.calls == {}

        unknown = f"/2010-04-01/Accounts/{ACCOUNT}/Calls/CA{'0' * 32}.json"
        status, body = await rest(http, fake, "POST", unknown, [("Status", "completed")])
        assert (status, body["code"]) == (404, 20404)
        assert fake.updates[-1].status == 404

        status, body = await rest(http, fake, "GET", f"/2010-04-01/Accounts/{ACCOUNT}.json")
        assert status == 200 and body["sid"] == ACCOUNT and body["status"] == "active"
        path = (
            f"/2010-04-01/Accounts/{ACCOUNT}/IncomingPhoneNumbers.json?PhoneNumber=%2B15550001111"
        )
        status, body = await rest(http, fake, "GET", path)
        assert [n["phone_number"] for n in body["incoming_phone_numbers"]] == [OUR_NUMBER]
        path = path.replace("0001111", "0009999")
        status, body = await rest(http, fake, "GET", path)
        assert status == 200 and body["incoming_phone_numbers"] == []


async def test_twilio_sdk_talks_to_the_fake(server: OurServer) -> None:
    """The official SDK (what our server uses) parses every answer the fake gives."""
    http_client = AsyncTwilioHttpClient(timeout=5)
    async with make_fake(server, CallPlan(ring_ms=10_000)) as fake:
        client = Client(ACCOUNT, TOKEN, http_client=http_client)
        client.api.base_url = fake.api_base_url
        try:
            account = await client.api.v2010.accounts(ACCOUNT).fetch_async()
            assert account.status == "active"
            numbers = await client.incoming_phone_numbers.list_async(
                phone_number=OUR_NUMBER, limit=1
            )
            assert [n.phone_number for n in numbers] == [OUR_NUMBER]
            with pytest.raises(TwilioRestException) as refused:
                await client.calls.create_async(
                    to="12345", from_=OUR_NUMBER, url=f"{PUBLIC}/voice/answer"
                )
            assert refused.value.code == 21211
            created = await client.calls.create_async(
                to=CALLEE,
                from_=OUR_NUMBER,
                url=f"{PUBLIC}/voice/answer",
                status_callback=f"{PUBLIC}/voice/status",
                status_callback_event=["initiated", "ringing", "answered", "completed"],
                timeout=30,
                time_limit=600,
            )
            assert created.sid.startswith("CA") and len(created.sid) == 34
            assert created.status == "queued" and created.direction == "outbound-api"
            call = await fake.wait_call(TIMEOUT)
            assert fake.created[0]["StatusCallbackEvent"] == [
                "initiated",
                "ringing",
                "answered",
                "completed",
            ]
            await call.wait_status("ringing", TIMEOUT)
            updated = await client.calls(call.sid).update_async(status="canceled")
            assert updated.status == "canceled"
            async with asyncio.timeout(TIMEOUT):
                await call.ended.wait()
        finally:
            await http_client.close()
    assert [h.params["CallStatus"] for h in server.hooks_of("status")] == [
        "initiated",
        "ringing",
        "canceled",
    ]
    assert server.hooks_of("answer") == []


# ---- outbound call with a stream ---------------------------------------------------------


@pytest.mark.slow  # media at real pace
async def test_outbound_call_streams_at_real_pace_and_rest_hangup_stops_it(
    server: OurServer, http: aiohttp.ClientSession
) -> None:
    async with make_fake(server) as fake:
        call = await dial(http, fake)
        await server.wait_started()
        await server.wait_for(lambda: len(server.messages("media")) >= 25)
        await hang_up_via_rest(http, fake, call)
        await server.wait_for(lambda: server.ws_closed)

    # webhooks: signed over the public URL (query string included), delivered via the tunnel
    answer = server.hooks_of("answer")
    assert len(answer) == 1 and answer[0].signature_ok and answer[0].host == "voice.demo.test"
    assert answer[0].params["CallStatus"] == "in-progress"
    assert answer[0].params["Direction"] == "outbound-api"
    assert answer[0].params["CallSid"] == call.sid and answer[0].params["To"] == CALLEE
    statuses = server.hooks_of("status")
    assert all(h.signature_ok for h in statuses)
    assert [h.params["CallStatus"] for h in statuses] == [
        "initiated",
        "ringing",
        "in-progress",
        "completed",
    ]
    assert [int(h.params["SequenceNumber"]) for h in statuses] == [0, 1, 2, 3]
    assert all(h.params["CallbackSource"] == "call-progress-events" for h in statuses)
    parsedate_to_datetime(statuses[0].params["Timestamp"])
    assert "CallDuration" in statuses[-1].params and "CallDuration" not in statuses[0].params
    assert call.statuses == ["initiated", "ringing", "in-progress", "completed"]
    assert call.twiml == [STREAM_TWIML]
    stream_events = [h.params["StreamEvent"] for h in server.hooks_of("stream-status")]
    assert stream_events == ["stream-started", "stream-stopped"]

    # the stream: signed upgrade, connected, start, media..., stop
    assert server.ws_signature_ok is True
    log = [m for _, m in server.ws_log]
    assert log[0] == {"event": "connected", "protocol": "Call", "version": "1.0.0"}
    start = log[1]
    assert start["event"] == "start" and start["sequenceNumber"] == "1"
    assert start["streamSid"] == call.stream_sid and start["streamSid"].startswith("MZ")
    assert start["start"] == {
        "streamSid": call.stream_sid,
        "accountSid": ACCOUNT,
        "callSid": call.sid,
        "tracks": ["inbound"],
        "customParameters": {"call_token": "tok-123", "campaign": "spring"},
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
    }
    assert log[-1] == {
        "event": "stop",
        "sequenceNumber": str(len(log) - 1),
        "streamSid": call.stream_sid,
        "stop": {"accountSid": ACCOUNT, "callSid": call.sid},
    }
    assert [int(m["sequenceNumber"]) for m in log[1:]] == list(range(1, len(log)))
    assert call.ws_closed_by == "carrier"

    # media: 160 bytes of silence, chunk +1, timestamp +20 ms, on the real clock
    timed = [(t, m) for t, m in server.ws_log if m["event"] == "media"]
    for i, (_, m) in enumerate(timed, start=1):
        assert m["media"]["track"] == "inbound" and m["media"]["chunk"] == str(i)
        assert m["media"]["timestamp"] == str(20 * i)
        assert base64.b64decode(m["media"]["payload"]) == b"\xff" * 160
    first_t, _ = timed[0]
    for t, m in timed:
        stream_s = (int(m["media"]["timestamp"]) - 20) / 1000
        assert abs((t - first_t) - stream_s) < 0.1  # no drift, only jitter
    elapsed = timed[-1][0] - first_t
    assert elapsed > 0.3
    rate = (len(timed) - 1) / elapsed
    assert 40 <= rate <= 60


@pytest.mark.slow  # audio played at real pace
async def test_marks_echo_only_after_their_audio_played(
    server: OurServer, http: aiohttp.ClientSession
) -> None:
    async with make_fake(server) as fake:
        call = await dial(http, fake)
        await server.wait_started()
        await server.send_mark("empty")  # nothing queued: echoed at once
        await call.wait_for(lambda: call.marks_echoed == ["empty"])
        audio = voice_audio(300)[:2400]  # 300 ms
        loop = asyncio.get_running_loop()
        sent_at = loop.time()
        await server.send_audio(audio)
        await server.send_mark("after-300ms")
        await server.send_mark("right-behind")
        await server.wait_for(lambda: len(server.messages("mark")) == 3)
        echo_t = next(
            t for t, m in server.ws_log if m.get("mark", {}).get("name") == "right-behind"
        )
        await hang_up_via_rest(http, fake, call)

    assert [m["mark"]["name"] for m in server.messages("mark")] == [
        "empty",
        "after-300ms",
        "right-behind",
    ]
    echoes = {e.name: e for e in call.mark_echoes}
    assert echoes["empty"].played_bytes == 0
    assert echoes["after-300ms"].played_bytes == 2400 and not echoes["after-300ms"].cleared
    assert echoes["right-behind"].played_bytes == 2400
    assert echo_t - sent_at >= 0.3  # 2400 bytes play for 300 ms, starting after they arrive
    assert bytes(call.played_audio) == audio and call.played_ms == 300
    assert call.clears == []
    assert all(m["streamSid"] == call.stream_sid for m in server.messages("mark"))


async def test_clear_drops_queued_audio_and_echoes_pending_marks(
    server: OurServer, http: aiohttp.ClientSession
) -> None:
    async with make_fake(server) as fake:
        call = await dial(http, fake)
        await server.wait_started()
        await server.send_audio(b"\x55" * 16_000, chunk=1600)  # 2 s
        await server.send_mark("long")
        await call.wait_for(lambda: call.played_bytes >= 800)
        await server.send({"event": "clear", "streamSid": server.stream_sid})
        await server.wait_for(lambda: len(server.messages("mark")) == 1)
        played_at_clear = call.played_bytes
        await hang_up_via_rest(http, fake, call)

    assert call.marks_echoed == ["long"] and call.mark_echoes[0].cleared
    assert len(call.clears) == 1
    assert call.clears[0] + played_at_clear == 16_000
    assert call.clears[0] > 8000  # most of it never played
    assert call.played_bytes == played_at_clear  # nothing plays after a clear


@pytest.mark.slow  # a far party at real pace
async def test_far_party_script_speaks_waits_for_model_and_keys_then_hangs_up(
    server: OurServer, http: aiohttp.ClientSession
) -> None:
    plan = CallPlan(
        ring_ms=20,
        callee=(
            Speak("Hello, who is this?", ms=200),
            WaitForModel(quiet_ms=100, timeout_s=5),
            WaitForDigits(count=2, timeout_s=5),
            HangUp(),
        ),
    )
    fake = FakeTwilio(
        account_sid=ACCOUNT, auth_token=TOKEN, tunnel={}, plans=plan, owned_numbers=(OUR_NUMBER,)
    )
    async with fake:
        fake.route(PUBLIC + ":443/", f"http://127.0.0.1:{server.port}/")  # added after start
        call = await dial(http, fake)
        await server.wait_started()

        def voiced() -> list[bytes]:
            frames = [base64.b64decode(m["media"]["payload"]) for m in server.messages("media")]
            return [f for f in frames if f != b"\xff" * 160]

        # the far party talks for 200 ms (10 frames), then the line is silent again
        await server.wait_for(
            lambda: (
                len(voiced()) == 10
                and server.messages("media")[-1]["media"]["payload"]
                == base64.b64encode(b"\xff" * 160).decode()
            )
        )
        assert all(rms(f) > 1000 for f in voiced())
        assert call.spoken == ["Hello, who is this?"]
        model_reply = voice_audio(200)
        await server.send_audio(model_reply)
        await server.send_mark("reply")
        await server.wait_for(lambda: len(server.messages("mark")) == 1)
        assert call.heard_digits == ""
        await server.send_audio(dtmf.tone_audio("12"))
        async with asyncio.timeout(TIMEOUT):
            await call.ended.wait()
        await server.wait_for(lambda: server.ws_closed)

    assert call.heard_digits == "12"
    assert call.script_timeouts == []
    assert call.statuses[-1] == "completed"
    assert server.messages("stop") and server.ws_log[-1][1]["event"] == "stop"
    assert [h.params["CallStatus"] for h in server.hooks_of("status")][-1] == "completed"
    assert len(voiced()) == 10  # no more voice after the script


async def test_our_server_closing_the_stream_ends_the_call_when_the_twiml_runs_out(
    server: OurServer, http: aiohttp.ClientSession
) -> None:
    """Twilio resumes the TwiML after our server closes the socket; with nothing after
    `<Connect>` the call is over: no REST hang-up needed (and none would be seen)."""
    async with make_fake(server) as fake:
        call = await dial(http, fake)
        await server.wait_started()
        assert server.ws is not None
        await server.ws.close(code=1000)
        async with asyncio.timeout(TIMEOUT):
            await call.ended.wait()

    assert call.ws_closed_by == "server" and call.ws_close_code == 1000
    assert server.messages("stop") == []  # the socket was already gone
    assert call.statuses[-1] == "completed"
    assert [h.params["CallStatus"] for h in server.hooks_of("status")][-1] == "completed"
    assert fake.updates == []


async def test_lenient_carrier_keeps_the_call_up_after_the_stream_until_rest_hangup(
    server: OurServer, http: aiohttp.ClientSession
) -> None:
    async with make_fake(server, stay_up_after_stream=True) as fake:
        call = await dial(http, fake)
        await server.wait_started()
        assert server.ws is not None
        await server.ws.close(code=1000)
        await call.wait_for(lambda: call.ws_closed_by == "server")
        # The TwiML has run out: its runner is done, and the call is still up.
        runner = call.runner
        assert runner is not None
        async with asyncio.timeout(TIMEOUT):
            await asyncio.wait([runner])
        assert call.ws_close_code == 1000
        assert call.status == "in-progress" and not call.ended.is_set()
        assert [h.params["CallStatus"] for h in server.hooks_of("status")][-1] != "completed"
        await hang_up_via_rest(http, fake, call)

    assert server.messages("stop") == []
    assert call.statuses[-1] == "completed"
    assert [h.params["CallStatus"] for h in server.hooks_of("status")][-1] == "completed"


async def test_stop_media_and_far_party_dtmf_event(
    server: OurServer, http: aiohttp.ClientSession
) -> None:
    async with make_fake(server) as fake:
        call = await dial(http, fake)
        await server.wait_started()
        await call.wait_for(lambda: call.media_sent >= 3)
        call.stop_media()
        frozen = call.media_sent
        stream_ms = call.stream_ms
        await call.wait_for(lambda: call.stream_ms >= stream_ms + 100)
        assert call.media_sent == frozen  # the clock runs, no frames go out
        await call.send_dtmf_event("5")
        await server.wait_for(lambda: bool(server.messages("dtmf")))
        call.resume_media()
        await server.wait_for(lambda: len(server.messages("media")) > frozen)
        await hang_up_via_rest(http, fake, call)

    dtmf_message = server.messages("dtmf")[0]
    assert dtmf_message["dtmf"] == {"track": "inbound_track", "digit": "5"}
    media = server.messages("media")
    resumed = media[frozen]
    assert resumed["media"]["chunk"] == str(frozen + 1)  # chunk counts messages
    assert int(resumed["media"]["timestamp"]) >= int(media[frozen - 1]["media"]["timestamp"]) + 100


# ---- call outcomes ---------------------------------------------------------------------


@pytest.mark.slow  # waits out the ring timeout
async def test_no_answer_busy_and_ring_timeout(
    server: OurServer, http: aiohttp.ClientSession
) -> None:
    plans = {
        "+15550000001": CallPlan(answer="no-answer", ring_ms=50),
        "+15550000002": CallPlan(answer="busy", ring_ms=30),
        "+15550000003": CallPlan(answer="answer", ring_ms=60_000),  # rings past Timeout=1
    }
    async with make_fake(server, plans.__getitem__) as fake:
        calls = []
        for number in plans:
            form = [(k, v) for k, v in create_form() if k != "To"] + [("To", number)]
            if number.endswith("3"):
                form.append(("Timeout", "1"))
            status, _ = await rest(http, fake, "POST", CALLS, form)
            assert status == 201
            calls.append(await fake.wait_call(TIMEOUT))
        async with asyncio.timeout(TIMEOUT):
            await asyncio.gather(*(c.ended.wait() for c in calls))

    assert [c.status for c in calls] == ["no-answer", "busy", "no-answer"]
    for c in calls:
        assert c.statuses == ["initiated", "ringing", c.status]
        completed = [
            h
            for h in server.hooks_of("status")
            if h.params["CallSid"] == c.sid and h.params["CallStatus"] == c.status
        ]
        assert len(completed) == 1 and completed[0].params["CallDuration"] == "0"
    assert server.hooks_of("answer") == []


@pytest.mark.slow  # waits out the call's time limit
async def test_time_limit_ends_the_call(server: OurServer, http: aiohttp.ClientSession) -> None:
    async with make_fake(server) as fake:
        call = await dial(http, fake, TimeLimit="1")
        async with asyncio.timeout(TIMEOUT):
            await call.ended.wait()
    assert call.statuses[-1] == "completed"
    assert server.messages("stop")
    assert [h.params["CallStatus"] for h in server.hooks_of("status")][-1] == "completed"


async def test_async_amd_callback(server: OurServer, http: aiohttp.ClientSession) -> None:
    plan = CallPlan(ring_ms=20, answered_by="machine_end_beep", amd_delay_ms=50)
    async with make_fake(server, plan) as fake:
        call = await dial(
            http,
            fake,
            MachineDetection="DetectMessageEnd",
            AsyncAmd="true",
            AsyncAmdStatusCallback=f"{PUBLIC}/voice/amd",
            AsyncAmdStatusCallbackMethod="POST",
        )
        await server.wait_for(lambda: bool(server.hooks_of("amd")))
        await hang_up_via_rest(http, fake, call)

    (amd,) = server.hooks_of("amd")
    assert amd.signature_ok
    assert amd.params == {
        "AccountSid": ACCOUNT,
        "AnsweredBy": "machine_end_beep",
        "CallSid": call.sid,
        "MachineDetectionDuration": "50",
    }
    assert "AnsweredBy" not in server.hooks_of("answer")[0].params  # async: not on the Url
    assert server.hooks_of("status")[-1].params["AnsweredBy"] == "machine_end_beep"


# ---- inbound and TwiML -----------------------------------------------------------------


async def test_inbound_call_rejected(server: OurServer) -> None:
    server.twiml = lambda _params: '<Response><Reject reason="busy"/></Response>'
    async with make_fake(
        server, voice_url=f"{PUBLIC}/voice/answer", status_callback=f"{PUBLIC}/voice/status"
    ) as fake:
        call = await fake.place_inbound_call(
            from_number="+15557770000", to_number=OUR_NUMBER, plan=CallPlan()
        )
        assert await fake.wait_call(TIMEOUT) is call
        async with asyncio.timeout(TIMEOUT):
            await call.ended.wait()

    (voice,) = server.hooks_of("answer")
    assert voice.signature_ok
    assert voice.params["Direction"] == "inbound" and voice.params["CallStatus"] == "ringing"
    assert voice.params["From"] == "+15557770000" and voice.params["To"] == OUR_NUMBER
    assert call.statuses == ["ringing", "busy"]
    (status,) = server.hooks_of("status")  # inbound: only the completed event
    assert status.signature_ok and status.params["CallStatus"] == "busy"


async def test_twiml_say_hangup_unsupported_and_redirect(
    server: OurServer, http: aiohttp.ClientSession
) -> None:
    documents = iter(
        [
            "<Response><Say>Hello there</Say><Hangup/></Response>",
            "<Response><Gather/></Response>",
        ]
    )
    server.twiml = lambda _params: next(documents)
    async with make_fake(server, voice_url=f"{PUBLIC}/voice/answer") as fake:
        said = await fake.place_inbound_call(
            from_number="+15557770000", to_number=OUR_NUMBER, plan=CallPlan()
        )
        async with asyncio.timeout(TIMEOUT):
            await said.ended.wait()
        odd = await fake.place_inbound_call(
            from_number="+15557770000", to_number=OUR_NUMBER, plan=CallPlan()
        )
        async with asyncio.timeout(TIMEOUT):
            await odd.ended.wait()

        assert [await fake.wait_call(TIMEOUT) for _ in range(2)] == [said, odd]
        server.twiml = lambda _params: STREAM_TWIML
        call = await dial(http, fake)
        await server.wait_started()
        path = f"/2010-04-01/Accounts/{ACCOUNT}/Calls/{call.sid}.json"
        twiml = "<Response><Say>Goodbye</Say></Response>"
        status, _ = await rest(http, fake, "POST", path, [("Twiml", twiml)])
        assert status == 200
        async with asyncio.timeout(TIMEOUT):
            await call.ended.wait()

    assert said.said == ["Hello there"] and said.statuses == ["ringing", "in-progress", "completed"]
    assert odd.unsupported == ["Gather"] and odd.statuses[-1] == "completed"
    assert server.messages("stop")  # the redirect ended the stream
    assert call.said == ["Goodbye"] and call.statuses[-1] == "completed"
    assert fake.updates[-1].params == {"Twiml": [twiml]}


# ---- failure injection and shutdown ------------------------------------------------------


async def test_failure_injection(server: OurServer, http: aiohttp.ClientSession) -> None:
    async with make_fake(
        server, bad_signature=True, start_token_override="forged", delay_start_ms=100
    ) as fake:
        call = await dial(http, fake)
        await server.wait_started()
        await hang_up_via_rest(http, fake, call)

    assert server.hooks and not any(h.signature_ok for h in server.hooks)
    assert server.ws_signature_ok is False
    (_, connected), (start_t, start) = server.ws_log[:2]
    assert connected["event"] == "connected"
    assert start["start"]["customParameters"]["call_token"] == "forged"
    # A lower bound whatever the load: the fake can only have sent `connected` (and then
    # waited) after the handshake began; when `connected` was *read* depends on the load.
    assert start_t - server.ws_accepted_t >= 0.1


async def test_close_hangs_up_everything_and_leaves_no_tasks(
    server: OurServer, http: aiohttp.ClientSession
) -> None:
    fake = make_fake(server)
    await fake.start()
    call = await dial(http, fake)
    await server.wait_started()
    await fake.close()
    await fake.close()  # idempotent
    assert call.ended.is_set() and call.statuses[-1] == "completed"
    await server.wait_for(lambda: server.ws_closed)
    assert server.messages("stop")
    assert server.hooks_of("status")[-1].params["CallStatus"] == "completed"
    assert not fake._tasks


# ---- as strict as Twilio ------------------------------------------------------------------


def stream_twiml(url: str, after: str = "") -> str:
    return (
        f'<Response><Connect><Stream url="{url}">'
        '<Parameter name="call_token" value="tok-123"/></Stream></Connect>'
        f"{after}</Response>"
    )


async def test_shared_key_signing_announces_the_key_and_is_not_the_auth_token(
    server: OurServer, http: aiohttp.ClientSession
) -> None:
    key = SharedKey("shared-key-secret-for-tests", key_id="webhooks_sharedkey_test")
    server.shared_key = key
    async with make_fake(server, shared_key=key) as fake:
        call = await dial(http, fake)
        await server.wait_started()
        await hang_up_via_rest(http, fake, call)

    settings = "key=webhooks_sharedkey_test,algorithm=HMAC_SHA256"
    assert server.hooks and all(h.signature_ok for h in server.hooks)
    assert {h.signature_settings for h in server.hooks} == {settings}
    assert {w.signature_settings for w in call.webhooks} == {settings}
    assert server.ws_signature_ok is True
    # Really the SharedKey under SHA-256: neither the Auth Token nor SHA-1 verifies it.
    answer = call.webhooks[[w.kind for w in call.webhooks].index("voice")]
    assert not RequestValidator(TOKEN).validate(answer.url, answer.params, answer.signature)
    sha1 = RequestValidator(key.secret).compute_signature(answer.url, answer.params)
    assert sha1 != answer.signature
    assert key.secret not in repr(key)


async def test_shared_key_forgery_and_default_scheme(
    server: OurServer, http: aiohttp.ClientSession
) -> None:
    key = SharedKey("shared-key-secret-for-tests")
    server.shared_key = key
    async with make_fake(server, shared_key=key, bad_signature=True) as fake:
        call = await dial(http, fake)
        await server.wait_started()
        await hang_up_via_rest(http, fake, call)
    assert server.hooks and not any(h.signature_ok for h in server.hooks)
    assert server.ws_signature_ok is False
    # The default scheme sends no settings header.
    server.hooks.clear()
    async with make_fake(server) as fake:
        call = await dial(http, fake)
        await server.wait_for(lambda: bool(server.hooks_of("answer")))
        await hang_up_via_rest(http, fake, call)
    assert all(h.signature_ok and h.signature_settings is None for h in server.hooks)


async def test_stream_url_loses_its_query_string(
    server: OurServer, http: aiohttp.ClientSession
) -> None:
    requested = "wss://voice.demo.test/voice/stream?token=abc&x=1"
    server.twiml = lambda _params: stream_twiml(requested.replace("&", "&amp;"))
    async with make_fake(server) as fake:
        call = await dial(http, fake)
        await server.wait_started()
        await hang_up_via_rest(http, fake, call)
    assert server.ws_query == ""
    assert call.stream_url == "wss://voice.demo.test/voice/stream"
    assert call.stream_url_requested == requested
    assert server.ws_signature_ok is True  # signed over the URL it really requested

    server.ws_query = None
    async with make_fake(server, keep_stream_query=True) as fake:
        call = await dial(http, fake)
        await server.wait_for(lambda: server.ws_query is not None)
        await hang_up_via_rest(http, fake, call)
    assert server.ws_query == "token=abc&x=1" and call.stream_url == requested


async def test_ws_stream_url_is_refused_and_the_call_goes_on(
    server: OurServer, http: aiohttp.ClientSession
) -> None:
    server.twiml = lambda _params: stream_twiml(
        "ws://voice.demo.test/voice/stream", after="<Say>Stream failed</Say>"
    )
    async with make_fake(server) as fake:
        call = await dial(http, fake)
        async with asyncio.timeout(TIMEOUT):
            await call.ended.wait()
    assert server.ws is None and call.stream_sid is None
    assert [n.code for n in call.notifications] == [31922]
    assert call.stream_url_requested == "ws://voice.demo.test/voice/stream"
    assert call.said == ["Stream failed"]  # the TwiML went on, then ran out
    assert call.statuses == ["initiated", "ringing", "in-progress", "completed"]

    async with make_fake(server, allow_ws_stream=True) as fake:
        fake.route("http://voice.demo.test", f"http://127.0.0.1:{server.port}")  # plain ws
        call = await dial(http, fake)
        await server.wait_started()
        await hang_up_via_rest(http, fake, call)
    assert call.notifications == [] and call.stream_url == "ws://voice.demo.test/voice/stream"


async def test_time_limit_over_the_account_limit_is_refused(
    server: OurServer, http: aiohttp.ClientSession
) -> None:
    async with make_fake(server) as fake:
        form = [*create_form(), ("TimeLimit", "14401")]
        status, body = await rest(http, fake, "POST", CALLS, form)
        assert status == 400
        assert body["status"] == 400 and body["code"] == 20001
        assert "14400" in body["message"] and body["more_info"].startswith("https://")
        assert fake.created == [] and fake.calls == {}

        call = await dial(http, fake, TimeLimit="14400")
        path = f"/2010-04-01/Accounts/{ACCOUNT}/Calls/{call.sid}.json"
        status, body = await rest(http, fake, "POST", path, [("TimeLimit", "20000")])
        assert (status, body["code"]) == (400, 20001)
        assert call.config.time_limit_s == 14400
        await hang_up_via_rest(http, fake, call)

    async with make_fake(server, max_time_limit_s=86_400) as fake:  # a raised account limit
        call = await dial(http, fake, TimeLimit="86400")
        assert call.config.time_limit_s == 86_400
        await hang_up_via_rest(http, fake, call)


async def test_canceled_leaves_an_answered_call_and_completed_ends_any_call(
    server: OurServer, http: aiohttp.ClientSession
) -> None:
    plans = {CALLEE: CallPlan(ring_ms=20), "+15550003333": CallPlan(ring_ms=60_000)}
    async with make_fake(server, plans.__getitem__) as fake:
        call = await dial(http, fake)
        await server.wait_started()
        path = f"/2010-04-01/Accounts/{ACCOUNT}/Calls/{call.sid}.json"
        status, body = await rest(http, fake, "POST", path, [("Status", "canceled")])
        assert status == 200 and body["status"] == "in-progress"
        media = len(server.messages("media"))
        await server.wait_for(lambda: len(server.messages("media")) > media + 5)
        assert call.status == "in-progress" and not call.ended.is_set() and call.streaming
        await hang_up_via_rest(http, fake, call)  # Status=completed
        assert call.statuses[-1] == "completed"

        form = [(k, v) for k, v in create_form() if k != "To"] + [("To", "+15550003333")]
        status, _ = await rest(http, fake, "POST", CALLS, form)
        assert status == 201
        ringing = await fake.wait_call(TIMEOUT)
        await ringing.wait_status("ringing", TIMEOUT)
        await hang_up_via_rest(http, fake, ringing)
    assert ringing.statuses == ["initiated", "ringing", "canceled"]
    final = [h for h in server.hooks_of("status") if h.params["CallSid"] == ringing.sid]
    assert final[-1].params["CallStatus"] == "canceled"


def test_line_schedule_is_seeded_ordered_and_bounded() -> None:
    def schedule(seed: int) -> list[tuple[bool, float]]:
        line = Line(jitter_ms=60, loss_rate=0.1, seed=seed)
        out = []
        for n in range(500):
            fate = line.next(n * 0.02)
            out.append((fate.lost, fate.delay_s))
        return out

    first = schedule(7)
    assert schedule(7) == first
    assert schedule(8) != first
    lost = sum(1 for is_lost, _ in first if is_lost)
    assert 25 <= lost <= 80  # about 10 % of 500
    sent = [(n * 0.02 + delay) for n, (is_lost, delay) in enumerate(first) if not is_lost]
    assert sent == sorted(sent)  # order kept
    delays = [delay for is_lost, delay in first if not is_lost]
    assert max(delays) > 0.03 and min(delays) >= 0.0
    # Held-back frames wait at most for the latest frame before them (60 ms jitter).
    assert max(delays) <= 0.06 + 1e-9
    assert Line().clean and schedule(0) != [(False, 0.0)] * 500
    with pytest.raises(ValueError, match="loss_rate"):
        Line(loss_rate=1.0)
    with pytest.raises(ValueError, match="jitter_ms"):
        Line(jitter_ms=-1)


@pytest.mark.slow  # media at real pace
async def test_jitter_and_loss_on_the_caller_media(
    server: OurServer, http: aiohttp.ClientSession
) -> None:
    plan = CallPlan(ring_ms=20, jitter_ms=60, loss_rate=0.2, line_seed=11)
    async with make_fake(server, plan) as fake:
        call = await dial(http, fake)
        await server.wait_started()
        await call.wait_for(lambda: call.stream_ms >= 1400)
        await hang_up_via_rest(http, fake, call)

    timed = [(t, m) for t, m in server.ws_log if m["event"] == "media"]
    stamps = [int(m["media"]["timestamp"]) for _, m in timed]
    assert [m["media"]["chunk"] for _, m in timed] == [str(i) for i in range(1, len(timed) + 1)]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert call.media_lost and not set(call.media_lost) & set(stamps)
    # Exactly the frames the seeded line loses (its draws do not depend on timing).
    line = Line(jitter_ms=60, loss_rate=0.2, seed=11)
    expected_lost = [20 * n for n in range(1, 61) if line.next(0.0).lost]
    assert [s for s in call.media_lost if s <= 1200] == expected_lost
    # Every frame up to 1.2 s was sent or lost (the last few may still be held by the line).
    assert set(range(20, 1220, 20)) <= set(stamps) | set(call.media_lost)
    # Late, but never more than the jitter behind the grid (plus scheduling slack).
    (t0, m0) = timed[0]
    lateness = [
        (t - t0) - (int(m["media"]["timestamp"]) - int(m0["media"]["timestamp"])) / 1000
        for t, m in timed
    ]
    assert max(lateness) - min(lateness) < 0.06 + 0.1
    assert call.media_sent == len(timed)


def _decoded(payloads: list[str]) -> str:
    detector = DtmfDetector()
    heard = ""
    for payload in payloads:
        heard += "".join(detector.feed(base64.b64decode(payload)))
    heard += "".join(detector.feed(b"\xff" * 1600))
    return heard


@pytest.mark.slow  # tones at real pace
async def test_far_party_presses_keys_in_band_and_twilio_reports_them(
    server: OurServer, http: aiohttp.ClientSession
) -> None:
    plan = CallPlan(ring_ms=20, callee=(PressKeys("1#"), PressKeys("9", send_event=False)))
    async with make_fake(server, plan) as fake:
        call = await dial(http, fake)
        await server.wait_started()
        await call.wait_for(lambda: call.script_done)
        await server.wait_for(lambda: len(server.messages("dtmf")) == 2)
        await hang_up_via_rest(http, fake, call)

    assert call.keys_pressed == "1#9"
    log = [m for _, m in server.ws_log]
    dtmf_messages = [m for m in log if m["event"] == "dtmf"]
    assert [m["dtmf"] for m in dtmf_messages] == [
        {"track": "inbound_track", "digit": "1"},
        {"track": "inbound_track", "digit": "#"},
    ]
    assert all(m["streamSid"] == call.stream_sid for m in dtmf_messages)
    assert [int(m["sequenceNumber"]) for m in log[1:]] == list(range(1, len(log)))
    # In-band too: an independent detector hears every key in the media our server got.
    payloads = [m["media"]["payload"] for m in log if m["event"] == "media"]
    assert _decoded(payloads) == "1#9"
    # Each message follows the frame that ends its key's tone: the media before it holds the
    # whole tone, so the detector has heard the key by then.
    first = log.index(dtmf_messages[0])
    before = [m["media"]["payload"] for m in log[:first] if m["event"] == "media"]
    assert _decoded(before) == "1"
    assert not any(voiced for _, voiced in call.media_log)  # tones are not voice
    with pytest.raises(ValueError, match="DTMF"):
        key_frames("12x")
