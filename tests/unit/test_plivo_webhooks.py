"""Plivo's webhooks (carrier/plivo/webhooks.py): the V3 signature, the events read, the
Plivo XML rendered."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from multidict import MultiDict, MultiDictProxy

from voicecall_rt.call.records import CallStatus
from voicecall_rt.carrier.base import (
    Answerer,
    Busy,
    CallAnswered,
    Connect,
    HangUp,
    InboundCall,
    MachineVerdict,
    Proceed,
    Reject,
    StatusChanged,
    WebhookKind,
    WebhookRequest,
)
from voicecall_rt.carrier.plivo.webhooks import NONCE_HEADER, SIGNATURE_HEADER, PlivoWebhooks
from voicecall_rt.carrier.plivo.wire import decode_token, read_extra_headers
from voicecall_rt.simulator.plivo.webhooks import sign

TOKEN = "sim-plivo-auth-token"
URL = "https://voice.example.test/voice/answer?call=call_0123456789abcdef"
CALL_UUID = "2b3c4d5e-0000-4000-8000-000000000001"
REQUEST_UUID = "9834029e-58b6-11e1-b8b7-a5bd0e4e126f"
HOOKS = PlivoWebhooks(TOKEN)


def _request(params: dict[str, str], headers: dict[str, str], url: str = URL) -> WebhookRequest:
    return WebhookRequest(url=url, headers=headers, form=MultiDictProxy(MultiDict(params)))


def _signed(params: dict[str, str], url: str = URL, token: str = TOKEN) -> WebhookRequest:
    return _request(params, sign(url, params, token), url)


PARAMS = {"CallUUID": CALL_UUID, "RequestUUID": REQUEST_UUID, "Direction": "outbound"}


def test_v3_signature_is_checked() -> None:
    assert HOOKS.verify(_signed(PARAMS))
    assert not HOOKS.verify(_signed(PARAMS, token=TOKEN + "x"))
    good = sign(URL, PARAMS, TOKEN)
    # The nonce is part of what is signed: without it, or with another, no match.
    assert not HOOKS.verify(_request(PARAMS, {SIGNATURE_HEADER: good[SIGNATURE_HEADER]}))
    assert not HOOKS.verify(_request(PARAMS, {**good, NONCE_HEADER: "1" + good[NONCE_HEADER]}))
    assert not HOOKS.verify(_request(PARAMS, {NONCE_HEADER: good[NONCE_HEADER]}))
    assert not HOOKS.verify(_request(PARAMS, {}))
    # A field changed, added, or another URL (query included): no match.
    assert not HOOKS.verify(_request({**PARAMS, "CallUUID": "x"}, good))
    assert not HOOKS.verify(_request({**PARAMS, "Extra": "1"}, good))
    assert not HOOKS.verify(_request(PARAMS, good, URL.replace("call_0", "call_1")))
    # Headers are matched whatever their case.
    lowered = {k.lower(): v for k, v in good.items()}
    assert HOOKS.verify(_request(PARAMS, lowered))


def test_one_of_several_signatures_may_match() -> None:
    good = sign(URL, PARAMS, TOKEN)
    several = {**good, SIGNATURE_HEADER: "AAAA," + good[SIGNATURE_HEADER] + ",BBBB"}
    assert HOOKS.verify(_request(PARAMS, several))


def test_no_auth_token_verifies_nothing() -> None:
    assert not PlivoWebhooks("").verify(_signed(PARAMS, token=""))


def test_answer_events() -> None:
    answered = HOOKS.read(WebhookKind.ANSWER, _signed({**PARAMS, "CallStatus": "in-progress"}))
    assert answered == CallAnswered(call_sid=CALL_UUID, dial_id=REQUEST_UUID)
    inbound = HOOKS.read(
        WebhookKind.ANSWER,
        _signed(
            {"CallUUID": CALL_UUID, "Direction": "inbound", "From": "14155550177", "To": "1415"}
        ),
    )
    assert inbound == InboundCall(call_sid=CALL_UUID, from_number="+14155550177", to_number="+1415")


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("ringing", CallStatus.RINGING),
        ("in-progress", CallStatus.IN_PROGRESS),
        ("completed", CallStatus.COMPLETED),
        ("busy", CallStatus.BUSY),
        ("failed", CallStatus.FAILED),
        ("timeout", CallStatus.NO_ANSWER),
        ("no-answer", CallStatus.NO_ANSWER),
        ("cancel", CallStatus.CANCELED),
        ("weird", None),
    ],
)
def test_status_events(raw: str, status: CallStatus | None) -> None:
    event = HOOKS.read(WebhookKind.STATUS, _signed({**PARAMS, "CallStatus": raw}))
    assert event == StatusChanged(call_sid=CALL_UUID, status=status, raw=raw, dial_id=REQUEST_UUID)


@pytest.mark.parametrize(
    ("machine", "answerer", "raw"),
    [
        ("true", Answerer.MACHINE_DONE, "machine"),  # Plivo's only verdict: act on it
        ("false", Answerer.HUMAN, "human"),
        ("", Answerer.UNKNOWN, "unknown"),
    ],
)
def test_machine_events(machine: str, answerer: Answerer, raw: str) -> None:
    params = {**PARAMS, "Event": "MachineDetection", "Machine": machine}
    event = HOOKS.read(WebhookKind.AMD, _signed(params))
    assert event == MachineVerdict(
        call_sid=CALL_UUID, answerer=answerer, raw=raw, duration_ms=None, dial_id=REQUEST_UUID
    )


async def test_connect_renders_a_mulaw_bidirectional_stream_with_the_token() -> None:
    token = "call_0123456789abcdef.Ab-_xyz"
    event = CallAnswered(call_sid=CALL_UUID, dial_id=REQUEST_UUID)
    reply = await HOOKS.respond(
        event, Connect("wss://voice.example.test/voice/realtime-stream", token)
    )
    assert reply.content_type == "application/xml" and reply.status == 200
    root = ET.fromstring(reply.body)
    [stream] = list(root)
    assert root.tag == "Response" and stream.tag == "Stream"
    assert stream.text == "wss://voice.example.test/voice/realtime-stream"
    assert stream.attrib == {
        "bidirectional": "true",
        "audioTrack": "inbound",
        "contentType": "audio/x-mulaw;rate=8000",
        "keepCallAlive": "true",
        "extraHeaders": stream.attrib["extraHeaders"],
    }
    assert decode_token(read_extra_headers(stream.attrib["extraHeaders"])) == token


async def test_other_decisions_render() -> None:
    event = InboundCall(call_sid=CALL_UUID, from_number="+1", to_number="+2")
    reject = ET.fromstring((await HOOKS.respond(event, Reject())).body)
    assert [(e.tag, e.attrib) for e in reject] == [("Hangup", {"reason": "rejected"})]
    busy = ET.fromstring((await HOOKS.respond(event, Busy("Busy <now> & later"))).body)
    assert [(e.tag, e.text) for e in busy] == [("Speak", "Busy <now> & later"), ("Hangup", None)]
    for decision in (HangUp(), Proceed()):
        hang_up = ET.fromstring((await HOOKS.respond(event, decision)).body)
        assert [e.tag for e in hang_up] == ["Hangup"]
    health = HOOKS.health()
    assert [e.tag for e in ET.fromstring(health.body)] == ["Hangup"]
