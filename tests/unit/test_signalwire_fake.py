"""The fake SignalWire (the fake Twilio in SignalWire's dialect) against the app playing our
server (tests/helpers/fake_twilio_harness.py): as strict as SignalWire on its deltas — the
REST API under /api/laml with ProjectID:APIToken, webhooks signed with the Signing Key in
`X-SignalWire-Signature`, a `<Stream url>` with a query string or an unknown codec refused,
its stream messages (no top-level `streamSid` on `start`/`media`, a bare `stop`) and our
`dtmf` message pressing a key the far party hears. Waits are on conditions, never sleeps.
"""

from __future__ import annotations

import re

import aiohttp
import pytest

from tests.helpers.fake_twilio_harness import OurServer, create_form, rest
from tests.helpers.signalwire_bench import (
    ACCOUNT_PATH,
    API_TOKEN,
    CALLS,
    CREDENTIALS,
    OUR_NUMBER,
    PROJECT_ID,
    SIGNING_KEY,
    dial,
    hang_up,
    make_fake,
    refused_call,
    signed_with,
    stream_cxml,
    streamed_call,
)
from voicecall_rt.carrier.signalwire.wire import SignalWireStreamWriter

UUID = re.compile(r"^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$")


# ---- REST ------------------------------------------------------------------------------------


async def test_rest_is_under_api_laml_with_the_projects_api_token(
    server: OurServer, http: aiohttp.ClientSession
) -> None:
    async with make_fake(server) as fake:
        twilio_path = f"/2010-04-01/Accounts/{PROJECT_ID}/Calls.json"
        status, _ = await rest(http, fake, "POST", twilio_path, create_form(), CREDENTIALS)
        assert status == 404
        status, body = await rest(
            http, fake, "POST", CALLS, create_form(), auth=(PROJECT_ID, SIGNING_KEY)
        )
        assert status == 401, body  # the Signing Key signs webhooks; it is no REST password
        assert fake.created == []

        status, body = await rest(http, fake, "GET", ACCOUNT_PATH + ".json", auth=CREDENTIALS)
        assert (status, body["sid"], body["status"]) == (200, PROJECT_ID, "active")
        status, body = await rest(
            http,
            fake,
            "GET",
            ACCOUNT_PATH + "/IncomingPhoneNumbers.json?PhoneNumber=%2B15550001111",
            auth=CREDENTIALS,
        )
        assert [n["phone_number"] for n in body["incoming_phone_numbers"]] == [OUR_NUMBER]

        # TimeLimit is not a field of SignalWire's create call: ignored, whatever its value.
        call = await dial(http, fake, TimeLimit="999999")
        assert UUID.fullmatch(call.sid)
        assert call.config.time_limit_s is None
        await server.wait_for(lambda: bool(server.hooks_of("answer")))
        await hang_up(http, fake, call)
    assert call.status == "completed"


# ---- webhooks ----------------------------------------------------------------------------------


@pytest.mark.slow  # media at real pace
async def test_webhooks_are_signed_with_the_signing_key_in_signalwires_header(
    server: OurServer, http: aiohttp.ClientSession
) -> None:
    fake, _ = await streamed_call(server, http, stream_cxml())

    assert [h.kind for h in server.hooks] == ["status", "status", "answer", "status", "status"]
    for hook in server.hooks:
        assert list(hook.signatures) == ["X-SignalWire-Signature"]
    assert fake.webhooks and all(signed_with(SIGNING_KEY, hook) for hook in fake.webhooks)
    assert not any(signed_with(API_TOKEN, hook) for hook in fake.webhooks)
    assert {hook.params["AccountSid"] for hook in fake.webhooks} == {PROJECT_ID}
    assert server.ws_signatures == {}  # SignalWire's upgrade carries no signature


async def test_forged_signatures_are_made_with_a_wrong_key(
    server: OurServer, http: aiohttp.ClientSession
) -> None:
    server.twiml = lambda _params: '<?xml version="1.0"?><Response><Hangup/></Response>'
    async with make_fake(server, bad_signature=True) as fake:
        call = await dial(http, fake)
        await call.wait_for(lambda: call.ended.is_set())
    assert fake.webhooks and not any(signed_with(SIGNING_KEY, hook) for hook in fake.webhooks)


# ---- the stream --------------------------------------------------------------------------------


@pytest.mark.slow  # media at real pace
async def test_stream_messages_are_signalwires_and_our_dtmf_is_heard(
    server: OurServer, http: aiohttp.ClientSession
) -> None:
    server.twiml = lambda _params: stream_cxml()
    async with make_fake(server) as fake:
        call = await dial(http, fake)
        await server.wait_started()
        await server.wait_for(lambda: len(server.messages("media")) >= 3)
        sid = server.stream_sid
        assert sid is not None and server.ws is not None
        writer = SignalWireStreamWriter(sid)  # what our server's bridge sends, per key
        for key in "5#":
            message = writer.keypad(key)
            assert message is not None
            await server.ws.send_str(message)
        await call.wait_for(lambda: call.heard_digits == "5#")
        await server.send({"event": "dtmf", "streamSid": "someone-else", "dtmf": {"digit": "1"}})
        await server.send({"event": "dtmf", "streamSid": sid, "dtmf": {"digit": "12"}})
        await call.wait_for(lambda: len(call.protocol_errors) == 2)
        await server.send_mark("m1")
        await server.wait_for(lambda: bool(server.messages("mark")))
        await hang_up(http, fake, call)
        await server.wait_for(lambda: server.ws_closed)

    assert call.heard_digits == "5#"
    assert call.protocol_errors == [
        "dtmf: wrong or missing streamSid",
        "dtmf without one key (0-9 * # A-D)",
    ]
    log = [m for _, m in server.ws_log]
    assert log[0] == {"event": "connected", "protocol": "Call", "version": "0.2.0"}
    start = log[1]
    assert "streamSid" not in start and start["sequenceNumber"] == "1"
    assert start["start"] == {
        "streamSid": call.stream_sid,
        "accountSid": PROJECT_ID,
        "callSid": call.sid,
        "tracks": ["inbound"],
        "customParameters": {"call_token": "tok-123"},
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
    }
    assert call.stream_sid is not None and UUID.fullmatch(call.stream_sid)
    assert all("streamSid" not in m for m in server.messages("media"))
    assert server.messages("mark") == [
        {"event": "mark", "streamSid": call.stream_sid, "mark": {"name": "m1"}}
    ]
    assert log[-1] == {"event": "stop", "sequenceNumber": log[-1]["sequenceNumber"]}
    assert int(log[-1]["sequenceNumber"]) > int(log[-2].get("sequenceNumber", "0"))


async def test_a_stream_url_with_a_query_string_opens_no_stream(
    server: OurServer, http: aiohttp.ClientSession
) -> None:
    call = await refused_call(server, http, stream_cxml("wss://voice.demo.test/voice/stream?x=1"))
    assert server.ws is None and call.stream is None
    assert [n.message.split(":")[0] for n in call.notifications] == ["invalid_url"]
    assert call.stream_url_requested == "wss://voice.demo.test/voice/stream?x=1"
    assert call.status == "completed"


@pytest.mark.parametrize("codec", ["OPUS@48000h", "PCMA@8000h", "pcmu"])
async def test_an_unknown_codec_opens_no_stream(
    server: OurServer, http: aiohttp.ClientSession, codec: str
) -> None:
    call = await refused_call(server, http, stream_cxml(codec=codec))
    assert server.ws is None
    assert [n.message.split(":")[0] for n in call.notifications] == ["codec_error"]


@pytest.mark.slow  # media at real pace
@pytest.mark.parametrize(
    ("codec", "fmt"),
    [
        ("PCMU@8000h", {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}),
        ("L16@16000h", {"encoding": "audio/x-L16", "sampleRate": 16000, "channels": 1}),
        ("L16@24000h", {"encoding": "audio/x-L16", "sampleRate": 24000, "channels": 1}),
    ],
)
async def test_start_announces_the_codec_asked_for(
    server: OurServer, http: aiohttp.ClientSession, codec: str, fmt: dict[str, object]
) -> None:
    await streamed_call(server, http, stream_cxml(codec=codec))
    (start,) = server.messages("start")
    assert start["start"]["mediaFormat"] == fmt
