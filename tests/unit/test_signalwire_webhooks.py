"""SignalWire's webhooks through `SignalWireWebhooks`: signed with the project's Signing Key
(never the API token) in `X-SignalWire-Signature`; the Compatibility API's form fields read
as neutral events (its `answered` status, its AMD values); each decision rendered as cXML
with `<Stream codec="PCMU@8000h">` and the token as a `<Parameter>`."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET

import pytest
from multidict import CIMultiDict, MultiDict, MultiDictProxy
from twilio.request_validator import RequestValidator

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
from voicecall_rt.carrier.signalwire.webhooks import (
    SIGNATURE_HEADER,
    SignalWireWebhooks,
    stream_cxml,
)
from voicecall_rt.carrier.twilio.wire import TOKEN_PARAMETER

PROJECT = "b08dacad-2f6c-4de1-93d6-cc732e0c69c5"
CALL = "76ac3c36-56da-4a3e-a0d6-b5f8df6da9ad"
SIGNING_KEY = "PSK_test_signing_key_0123456789"
API_TOKEN = "PT_test_api_token_abcdef012345"
URL = "https://voice.example.com/voice/answer?call=call_1"
WEBHOOKS = SignalWireWebhooks(SIGNING_KEY)

# What SignalWire posts to the answer URL of a call we placed, once picked up.
OUTBOUND_ANSWER = {
    "AccountSid": PROJECT,
    "ApiVersion": "2010-04-01",
    "CallSid": CALL,
    "CallStatus": "in-progress",
    "Direction": "outbound-api",
    "From": "+14155551234",
    "To": "+15555550100",
}


def request(
    form: dict[str, str], *, key: str | None = SIGNING_KEY, header: str = SIGNATURE_HEADER
) -> WebhookRequest:
    """A webhook as our web layer hands it over, signed with `key` in `header`."""
    headers: CIMultiDict[str] = CIMultiDict()
    if key is not None:
        headers[header] = RequestValidator(key).compute_signature(URL, form)
    return WebhookRequest(url=URL, headers=headers, form=MultiDictProxy(MultiDict(form)))


# ---- signatures ---------------------------------------------------------------------------


def test_signed_with_the_signing_key_is_accepted() -> None:
    assert WEBHOOKS.verify(request(OUTBOUND_ANSWER))
    # SignalWire's SDK also takes the Compatibility API's older header; same key.
    assert WEBHOOKS.verify(request(OUTBOUND_ANSWER, header="X-Twilio-Signature"))
    lowercase = request(OUTBOUND_ANSWER, header=SIGNATURE_HEADER.lower())
    assert WEBHOOKS.verify(lowercase)


def test_signed_with_the_api_token_is_refused(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert not WEBHOOKS.verify(request(OUTBOUND_ANSWER, key=API_TOKEN))
    assert "invalid SignalWire signature" in caplog.text
    assert SIGNING_KEY not in caplog.text and API_TOKEN not in caplog.text


def test_unsigned_forged_or_altered_is_refused() -> None:
    assert not WEBHOOKS.verify(request(OUTBOUND_ANSWER, key=None))
    assert not WEBHOOKS.verify(request(OUTBOUND_ANSWER, key=SIGNING_KEY + "x"))
    signed = request(OUTBOUND_ANSWER)
    altered = WebhookRequest(
        url=URL,
        headers=signed.headers,
        form=MultiDictProxy(MultiDict({**OUTBOUND_ANSWER, "To": "+19995550000"})),
    )
    assert not WEBHOOKS.verify(altered)
    other_url = WebhookRequest(
        url=URL.replace("call_1", "call_2"), headers=signed.headers, form=signed.form
    )
    assert not WEBHOOKS.verify(other_url)


def test_no_signing_key_configured_refuses_everything() -> None:
    unkeyed = SignalWireWebhooks("")
    assert not unkeyed.verify(request(OUTBOUND_ANSWER, key=""))
    assert not unkeyed.verify(request(OUTBOUND_ANSWER))


# ---- events -----------------------------------------------------------------------------


def test_answer_webhooks_read_as_outbound_or_inbound() -> None:
    event = WEBHOOKS.read(WebhookKind.ANSWER, request(OUTBOUND_ANSWER))
    assert event == CallAnswered(call_sid=CALL)
    inbound = {**OUTBOUND_ANSWER, "Direction": "inbound", "CallStatus": "ringing"}
    assert WEBHOOKS.read(WebhookKind.ANSWER, request(inbound)) == InboundCall(
        call_sid=CALL, from_number="+14155551234", to_number="+15555550100"
    )


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("initiated", CallStatus.QUEUED),
        ("ringing", CallStatus.RINGING),
        ("answered", CallStatus.IN_PROGRESS),  # SignalWire sends it beside `in-progress`
        ("in-progress", CallStatus.IN_PROGRESS),
        ("completed", CallStatus.COMPLETED),
        ("no-answer", CallStatus.NO_ANSWER),
        ("canceled", CallStatus.CANCELED),
        ("ringing-elsewhere", None),
    ],
)
def test_status_webhooks(raw: str, status: CallStatus | None) -> None:
    form = {**OUTBOUND_ANSWER, "CallStatus": raw}
    event = WEBHOOKS.read(WebhookKind.STATUS, request(form))
    assert event == StatusChanged(call_sid=CALL, status=status, raw=raw)


@pytest.mark.parametrize(
    ("answered_by", "answerer"),
    [
        ("human", Answerer.HUMAN),
        ("machine_end_beep", Answerer.MACHINE_DONE),
        ("machine_end_silence", Answerer.MACHINE_DONE),
        ("machine_end_other", Answerer.MACHINE_DONE),
        ("machine", Answerer.MACHINE_DONE),  # the Call resource's bare value
        ("machine_start", Answerer.MACHINE_GREETING),
        ("fax", Answerer.FAX),
        ("unknown", Answerer.UNKNOWN),
    ],
)
def test_amd_webhooks(answered_by: str, answerer: Answerer) -> None:
    verdict = {"AnsweredBy": answered_by, "MachineDetectionDuration": "2300"}
    event = WEBHOOKS.read(WebhookKind.AMD, request({**OUTBOUND_ANSWER, **verdict}))
    assert event == MachineVerdict(
        call_sid=CALL, answerer=answerer, raw=answered_by, duration_ms=2300
    )


# ---- cXML -------------------------------------------------------------------------------


async def test_connect_renders_a_pcmu_stream_with_the_token_as_a_parameter() -> None:
    reply = await WEBHOOKS.respond(
        CallAnswered(CALL), Connect("wss://voice.example.com/voice/realtime-stream", "tok.1")
    )
    assert reply.content_type == "text/xml" and reply.status == 200
    root = ET.fromstring(reply.body)
    assert root.tag == "Response" and [child.tag for child in root] == ["Connect"]
    (stream,) = list(root[0])
    assert stream.tag == "Stream"
    assert stream.attrib == {
        "url": "wss://voice.example.com/voice/realtime-stream",
        "codec": "PCMU@8000h",
    }
    assert [(p.tag, p.attrib) for p in stream] == [
        ("Parameter", {"name": TOKEN_PARAMETER, "value": "tok.1"})
    ]


def test_a_stream_url_with_a_query_is_never_rendered() -> None:
    with pytest.raises(ValueError, match="query"):
        stream_cxml("wss://voice.example.com/voice/realtime-stream?token=x", "tok")


@pytest.mark.parametrize(
    ("decision", "verbs"),
    [
        (Busy("We are busy"), ["Say", "Hangup"]),
        (Reject(), ["Reject"]),
        (HangUp(), ["Hangup"]),
        (Proceed(), ["Hangup"]),  # nothing was dialled to go on with
    ],
)
async def test_other_decisions_render_as_cxml_verbs(
    decision: Busy | Reject | HangUp | Proceed, verbs: list[str]
) -> None:
    event = InboundCall(CALL, "+14155551234", "+15555550100")
    reply = await WEBHOOKS.respond(event, decision)
    root = ET.fromstring(reply.body)
    assert [child.tag for child in root] == verbs


def test_health_is_a_hang_up() -> None:
    root = ET.fromstring(WEBHOOKS.health().body)
    assert [child.tag for child in root] == ["Hangup"]
