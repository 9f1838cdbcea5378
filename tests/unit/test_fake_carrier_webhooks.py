"""The fake Twilio's webhooks and TwiML, against a tiny app playing our server that checks
every signature with twilio's own RequestValidator (tests/helpers/fake_twilio_harness.py):
Auth Token and SharedKey signing, forgeries, the async AMD callback, inbound calls, the TwiML
verbs the fake runs, and the `<Stream>` rules Twilio enforces.
"""

from __future__ import annotations

import asyncio

import aiohttp
from twilio.request_validator import RequestValidator

from tests.helpers.fake_twilio_harness import (
    ACCOUNT,
    OUR_NUMBER,
    PUBLIC,
    STREAM_TWIML,
    TIMEOUT,
    TOKEN,
    OurServer,
    dial,
    hang_up_via_rest,
    make_fake,
    rest,
)
from voicecall_rt.simulator.scenario import CallPlan
from voicecall_rt.simulator.signing import SharedKey

# ---- signing -----------------------------------------------------------------------------


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


# ---- the <Stream> URL, as strict as Twilio ------------------------------------------------


def stream_twiml(url: str, after: str = "") -> str:
    return (
        f'<Response><Connect><Stream url="{url}">'
        '<Parameter name="call_token" value="tok-123"/></Stream></Connect>'
        f"{after}</Response>"
    )


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
