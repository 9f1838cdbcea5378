"""Twilio's webhooks through `TwilioWebhooks`: the form fields Twilio posts, read as neutral
events; each decision rendered as TwiML; signatures checked before anything else
(docs/protocols.md §4.2-4.4). The signature schemes in depth: test_twilio_signatures.py.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Mapping

import pytest
from multidict import CIMultiDict, MultiDict, MultiDictProxy
from twilio.request_validator import SIGNATURE_HEADER, RequestValidator

from voicecall_rt.call.records import CallStatus
from voicecall_rt.carrier.base import (
    Answerer,
    Busy,
    CallAnswered,
    CarrierWebhooks,
    Connect,
    HangUp,
    InboundCall,
    MachineVerdict,
    Proceed,
    Reject,
    Reply,
    StatusChanged,
    WebhookKind,
    WebhookRequest,
)
from voicecall_rt.carrier.twilio.webhooks import TwilioWebhooks, hang_up_twiml, stream_twiml
from voicecall_rt.carrier.twilio.wire import TOKEN_PARAMETER
from voicecall_rt.simulator.signing import SharedKey, signature_headers

CALL_SID = "CA" + "fedcba9876543210" * 2
ACCOUNT_SID = "AC" + "00112233445566778899aabbccddeeff"
TOKEN = "12345678901234567890123456789012"
URL = "https://voice.example.com/voice/answer?call=abc123"
KEY = SharedKey("shared-secret-abcdef", key_id="webhooks_sharedkey_0001")
WEBHOOKS = TwilioWebhooks(TOKEN)

# What Twilio posts to the answer URL of a call we placed (outbound-api), once picked up.
OUTBOUND_ANSWER = {
    "AccountSid": ACCOUNT_SID,
    "ApiVersion": "2010-04-01",
    "CallSid": CALL_SID,
    "CallStatus": "in-progress",
    "Called": "+15555550100",
    "Caller": "+14155551234",
    "Direction": "outbound-api",
    "From": "+14155551234",
    "To": "+15555550100",
}
# ...and to the number's Voice URL when someone calls it.
INBOUND_ANSWER = {
    **OUTBOUND_ANSWER,
    "CallStatus": "ringing",
    "Direction": "inbound",
    "From": "+14155550177",
    "To": "+15555550123",
    "CallerCountry": "US",
}


def webhook(form: dict[str, str], headers: dict[str, str] | None = None) -> WebhookRequest:
    return WebhookRequest(url=URL, headers=headers or {}, form=form)


def signed(
    form: dict[str, str], shared_key: SharedKey | None = None, *, forge: bool = False
) -> WebhookRequest:
    """Signed as Twilio signs: with the Auth Token, or with `shared_key`."""
    headers = signature_headers(URL, form, auth_token=TOKEN, shared_key=shared_key, forge=forge)
    return webhook(form, headers)


async def test_is_the_carriers_webhooks() -> None:
    webhooks: CarrierWebhooks = WEBHOOKS
    assert webhooks.health() == Reply(hang_up_twiml(), "text/xml")
    reply = await webhooks.respond(CallAnswered(CALL_SID), Connect("wss://h/s", "t.x"))
    assert (reply.content_type, reply.status) == ("text/xml", 200)
    assert reply.body == stream_twiml("wss://h/s", "t.x")
    # Twilio streams only from TwiML: a call told to proceed as dialled has nothing to run.
    assert (await webhooks.respond(CallAnswered(CALL_SID), Proceed())).body == hang_up_twiml()


def test_read_follows_the_url_called() -> None:
    request = webhook(OUTBOUND_ANSWER)
    assert WEBHOOKS.read(WebhookKind.ANSWER, request) == CallAnswered(call_sid=CALL_SID)
    assert isinstance(WEBHOOKS.read(WebhookKind.STATUS, request), StatusChanged)
    assert isinstance(WEBHOOKS.read(WebhookKind.AMD, request), MachineVerdict)


# --------------------------------------------------------------------------- events


def test_outbound_answer_event() -> None:
    assert WEBHOOKS.answer_event(webhook(OUTBOUND_ANSWER)) == CallAnswered(call_sid=CALL_SID)


def test_inbound_answer_event() -> None:
    assert WEBHOOKS.answer_event(webhook(INBOUND_ANSWER)) == InboundCall(
        call_sid=CALL_SID, from_number="+14155550177", to_number="+15555550123"
    )


def test_answer_event_without_fields() -> None:
    # No Direction: not inbound, so the answer of a call we placed (matched by its id).
    assert WEBHOOKS.answer_event(webhook({})) == CallAnswered(call_sid="")
    event = WEBHOOKS.answer_event(webhook({"Direction": "inbound"}))
    assert event == InboundCall(call_sid="", from_number="", to_number="")


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        *((status.value, status) for status in CallStatus if status is not CallStatus.INITIATING),
        ("initiated", CallStatus.QUEUED),  # the status callback's word for the API's queued
        ("answered", None),  # an event name, not a status
        ("", None),
    ],
)
def test_status_event(raw: str, status: CallStatus | None) -> None:
    form = {"AccountSid": ACCOUNT_SID, "CallSid": CALL_SID, "CallStatus": raw}
    event = WEBHOOKS.status_event(webhook({**form, "CallDuration": "12", "SequenceNumber": "3"}))
    assert (event.call_sid, event.status, event.raw) == (CALL_SID, status, raw)


def test_status_event_without_a_status() -> None:
    event = WEBHOOKS.status_event(webhook({"CallSid": CALL_SID}))
    assert (event.status, event.raw) == (None, "")


@pytest.mark.parametrize(
    ("answered_by", "answerer"),
    [
        ("human", Answerer.HUMAN),
        ("fax", Answerer.FAX),
        ("machine_start", Answerer.MACHINE_GREETING),
        ("machine_end_beep", Answerer.MACHINE_DONE),
        ("machine_end_silence", Answerer.MACHINE_DONE),
        ("machine_end_other", Answerer.MACHINE_DONE),
        ("unknown", Answerer.UNKNOWN),
        ("something_new", Answerer.UNKNOWN),
    ],
)
def test_machine_event(answered_by: str, answerer: Answerer) -> None:
    form = {
        "AccountSid": ACCOUNT_SID,
        "CallSid": CALL_SID,
        "AnsweredBy": answered_by,
        "MachineDetectionDuration": "4210",
    }
    verdict = WEBHOOKS.machine_event(webhook(form))
    assert verdict.call_sid == CALL_SID
    assert verdict.answerer is answerer
    assert verdict.raw == answered_by  # in Twilio's words, as the call record keeps it
    assert verdict.duration_ms == 4210


@pytest.mark.parametrize("duration", ["", "4.2", "soon"])
def test_machine_event_without_a_verdict_or_a_duration(duration: str) -> None:
    verdict = WEBHOOKS.machine_event(webhook({"MachineDetectionDuration": duration}))
    assert (verdict.call_sid, verdict.answerer, verdict.raw) == ("", Answerer.UNKNOWN, "unknown")
    assert verdict.duration_ms is None


# --------------------------------------------------------------------------- TwiML


def test_render_connect() -> None:
    url = "wss://voice.example.com/voice/realtime-stream"
    root = ET.fromstring(WEBHOOKS.render(Connect(url, "tok_ABC-123")))
    assert root.tag == "Response"
    assert [child.tag for child in root] == ["Connect"]
    connect = root[0]
    assert [child.tag for child in connect] == ["Stream"]
    stream = connect[0]
    assert stream.get("url") == url
    params = list(stream)
    assert [p.tag for p in params] == ["Parameter"]
    assert params[0].attrib == {"name": TOKEN_PARAMETER, "value": "tok_ABC-123"}
    assert TOKEN_PARAMETER == "call_token"


def test_render_connect_escapes_attribute_values() -> None:
    url = "wss://voice.example.com/voice/realtime-stream?a=1&b=2"
    token = 'x"<y>&z'
    stream = ET.fromstring(WEBHOOKS.render(Connect(url, token))).find("./Connect/Stream")
    assert stream is not None
    assert stream.get("url") == url
    parameter = stream.find("Parameter")
    assert parameter is not None
    assert parameter.get("value") == token


def test_render_reject() -> None:
    root = ET.fromstring(WEBHOOKS.render(Reject()))
    assert root.tag == "Response"
    assert [child.tag for child in root] == ["Reject"]


def test_render_busy() -> None:
    root = ET.fromstring(WEBHOOKS.render(Busy("Sorry, all lines are busy <now> & later.")))
    assert [child.tag for child in root] == ["Say", "Hangup"]
    assert root[0].text == "Sorry, all lines are busy <now> & later."


def test_render_hang_up() -> None:
    root = ET.fromstring(WEBHOOKS.render(HangUp()))
    assert root.tag == "Response"
    assert [child.tag for child in root] == ["Hangup"]


# --------------------------------------------------------------------------- signatures

PARAMS = {
    "CallSid": CALL_SID,
    "AccountSid": ACCOUNT_SID,
    "From": "+14155551234",
    "To": "+15555550100",
    "CallStatus": "in-progress",
    "Direction": "outbound-api",
}


def sign(token: str, url: str, params: dict[str, str]) -> dict[str, str]:
    return {SIGNATURE_HEADER: str(RequestValidator(token).compute_signature(url, params))}


def verify(params: Mapping[str, str], headers: Mapping[str, str], url: str = URL) -> bool:
    return WEBHOOKS.verify(WebhookRequest(url=url, headers=headers, form=params))


def test_signature_valid() -> None:
    assert verify(PARAMS, sign(TOKEN, URL, PARAMS))


def test_signature_valid_with_no_params() -> None:
    url = "https://voice.example.com/voice/status"
    assert verify({}, sign(TOKEN, url, {}), url)


def test_signature_header_in_any_case() -> None:
    header = sign(TOKEN, URL, PARAMS)[SIGNATURE_HEADER]
    assert verify(PARAMS, {SIGNATURE_HEADER.lower(): header})
    assert verify(PARAMS, CIMultiDict({SIGNATURE_HEADER.upper(): header}))


def test_signature_over_repeated_fields() -> None:
    form = MultiDict([("CallSid", CALL_SID), ("Tag", "a"), ("Tag", "b")])
    headers = {SIGNATURE_HEADER: RequestValidator(TOKEN).compute_signature(URL, form)}
    assert WEBHOOKS.verify(WebhookRequest(url=URL, headers=headers, form=MultiDictProxy(form)))
    only_first = {"CallSid": CALL_SID, "Tag": "a"}
    assert not WEBHOOKS.verify(WebhookRequest(url=URL, headers=headers, form=only_first))


def test_signature_wrong_token() -> None:
    assert not verify(PARAMS, sign("0" * 32, URL, PARAMS))


def test_signature_tampered_param() -> None:
    headers = sign(TOKEN, URL, PARAMS)
    assert not verify({**PARAMS, "CallStatus": "completed"}, headers)
    assert not verify({**PARAMS, "Extra": "1"}, headers)
    without = {k: v for k, v in PARAMS.items() if k != "From"}
    assert not verify(without, headers)


@pytest.mark.parametrize("headers", [{}, {SIGNATURE_HEADER: ""}])
def test_signature_missing(headers: dict[str, str]) -> None:
    assert not verify(PARAMS, headers)


def test_signature_garbage() -> None:
    assert not verify(PARAMS, {SIGNATURE_HEADER: "not-a-signature"})


@pytest.mark.parametrize(
    "other_url",
    [
        "https://voice.example.com/voice/answer?call=abc124",
        "https://voice.example.com/voice/status?call=abc123",
        "https://evil.example.com/voice/answer?call=abc123",
        "https://voice.example.com/voice/answer",
    ],
)
def test_signature_different_url(other_url: str) -> None:
    assert not verify(PARAMS, sign(TOKEN, URL, PARAMS), other_url)


def test_signature_empty_token_never_valid() -> None:
    unset = TwilioWebhooks("")
    assert not unset.verify(WebhookRequest(url=URL, headers=sign("", URL, PARAMS), form=PARAMS))


def test_shared_key_signatures_need_the_key() -> None:
    assert not WEBHOOKS.verify(signed(PARAMS, shared_key=KEY))  # the Auth Token is not tried
    keyed = TwilioWebhooks(TOKEN, ["old-secret", KEY.secret])
    assert keyed.verify(signed(PARAMS, shared_key=KEY))
    assert keyed.verify(signed(PARAMS))  # the Auth Token scheme still passes
    assert not keyed.verify(signed(PARAMS, shared_key=KEY, forge=True))


def test_a_refusal_is_logged_without_secrets(caplog: pytest.LogCaptureFixture) -> None:
    keyed = TwilioWebhooks(TOKEN, [KEY.secret, "other-secret"])
    with caplog.at_level(logging.WARNING, logger="voicecall_rt.carrier.twilio.webhooks"):
        assert not keyed.verify(signed(PARAMS, forge=True))
        assert not keyed.verify(signed(PARAMS, shared_key=KEY, forge=True))
    plain, shared = [r.getMessage() for r in caplog.records]
    assert plain == "refused POST /voice/answer: missing or invalid Twilio signature"
    assert shared == (
        "refused POST /voice/answer: missing or invalid Twilio signature "
        "(SharedKey 'webhooks_sharedkey_0001', 'HMAC_SHA256'; 2 SharedKey secret(s) configured)"
    )
    assert not any(secret in plain + shared for secret in (TOKEN, KEY.secret, "other-secret"))


def test_an_accepted_webhook_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="voicecall_rt.carrier.twilio.webhooks"):
        assert WEBHOOKS.verify(signed(PARAMS))
    assert caplog.records == []
