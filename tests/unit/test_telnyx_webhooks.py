"""Telnyx's webhooks (carrier.telnyx.webhooks): the Ed25519 check, every event read as a
neutral event, and each decision carried out by a REST action on the fake Telnyx."""

from __future__ import annotations

import time
from typing import Any

import pytest
from nacl.signing import SigningKey

from tests.helpers.telnyx_fake import OUR_NUMBER, fake_telnyx
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
    TransferLegEnded,
    WebhookKind,
    WebhookRequest,
)
from voicecall_rt.carrier.telnyx.webhooks import TelnyxWebhooks
from voicecall_rt.carrier.telnyx.wire import client_state, read_client_state, transfer_state
from voicecall_rt.simulator.scenario import CallPlan
from voicecall_rt.simulator.telnyx.webhooks import event_body, public_key_b64, sign

SID = "v3:call-0123456789"
URL = "https://voice.example.test/voice/status?call=call_1"
HOOKS = TelnyxWebhooks(public_key_b64(), None)
CALLER = "+14155550177"


def _request(body: bytes, headers: dict[str, str]) -> WebhookRequest:
    return WebhookRequest(url=URL, headers=headers, form={}, body=body)


def _event(event_type: str, **payload: Any) -> WebhookRequest:
    body = event_body(event_type, {"call_control_id": SID, **payload})
    return _request(body, sign(body, int(time.time())))


# ---- verify --------------------------------------------------------------------------------


def test_a_signed_webhook_is_verified_whatever_the_header_case() -> None:
    body = event_body("call.answered", {"call_control_id": SID})
    headers = {k.title(): v for k, v in sign(body, int(time.time())).items()}
    assert HOOKS.verify(_request(body, headers))


@pytest.mark.parametrize(
    "case", ["unsigned", "no timestamp", "forged", "stale", "future", "body changed", "garbage"]
)
def test_anything_else_is_refused(case: str) -> None:
    body = event_body("call.answered", {"call_control_id": SID})
    now = int(time.time())
    headers = sign(body, now)
    if case == "unsigned":
        headers = {}
    elif case == "no timestamp":
        del headers["telnyx-timestamp"]
    elif case == "forged":
        headers = sign(body, now, SigningKey(bytes(range(32))))
    elif case == "stale":
        headers = sign(body, now - 301)
    elif case == "future":
        headers = sign(body, now + 301)
    elif case == "body changed":
        body = body.replace(SID.encode(), b"v3:another-call")
    else:
        headers["telnyx-signature-ed25519"] = "not base64 at all"
    assert not HOOKS.verify(_request(body, headers))


def test_a_body_that_is_not_utf8_is_refused_not_a_crash() -> None:
    body = b'{"data":"\xff\xfe"}'
    assert not HOOKS.verify(_request(body, sign(body, int(time.time()))))


def test_without_a_public_key_everything_is_refused() -> None:
    body = event_body("call.answered", {"call_control_id": SID})
    assert not TelnyxWebhooks(None, None).verify(_request(body, sign(body, int(time.time()))))


# ---- read ----------------------------------------------------------------------------------


def _read(event_type: str, kind: WebhookKind = WebhookKind.STATUS, **payload: Any) -> object:
    return HOOKS.read(kind, _event(event_type, **payload))


def test_call_initiated() -> None:
    inbound = _read("call.initiated", WebhookKind.ANSWER, direction="incoming", to=OUR_NUMBER)
    assert inbound == InboundCall(call_sid=SID, from_number="", to_number=OUR_NUMBER)
    inbound = _read("call.initiated", WebhookKind.STATUS, direction="incoming", **{"from": CALLER})
    assert isinstance(inbound, InboundCall) and inbound.from_number == CALLER
    outbound = _read("call.initiated", direction="outgoing")
    assert outbound == StatusChanged(SID, CallStatus.QUEUED, "call.initiated")


def test_call_answered_outbound_asks_inbound_informs() -> None:
    for state in (client_state("out", "t"), None):
        extra = {"client_state": state} if state else {}
        assert _read("call.answered", WebhookKind.ANSWER, **extra) == CallAnswered(SID)
    inbound = _read("call.answered", WebhookKind.ANSWER, client_state=client_state("in", "t"))
    assert inbound == StatusChanged(SID, CallStatus.IN_PROGRESS, "call.answered")


@pytest.mark.parametrize(
    ("cause", "status"),
    [
        ("normal_clearing", CallStatus.COMPLETED),
        ("time_limit", CallStatus.COMPLETED),
        ("unspecified", CallStatus.COMPLETED),
        ("originator_cancel", CallStatus.CANCELED),
        ("user_busy", CallStatus.BUSY),
        ("timeout", CallStatus.NO_ANSWER),
        ("no_answer", CallStatus.NO_ANSWER),
        ("call_rejected", CallStatus.FAILED),
        ("not_found", CallStatus.FAILED),
        ("something_new", None),
    ],
)
def test_call_hangup(cause: str, status: CallStatus | None) -> None:
    assert _read("call.hangup", hangup_cause=cause) == StatusChanged(SID, status, cause)


def test_a_transfer_legs_hangup_names_our_call_and_its_other_events_mean_nothing() -> None:
    """Leg B of a transfer carries the state naming our call: its end is read as the end
    of a transfer's leg, and its answer is not a call of ours to decide on."""
    state = transfer_state("call_1")
    for cause, status in (
        ("user_busy", CallStatus.BUSY),
        ("normal_clearing", CallStatus.COMPLETED),
    ):
        ended = _read("call.hangup", WebhookKind.ANSWER, client_state=state, hangup_cause=cause)
        assert ended == TransferLegEnded("call_1", SID, status, cause)
    assert _read("call.hangup", client_state=state) == TransferLegEnded(
        "call_1", SID, None, "call.hangup"
    )
    for event_type in ("call.initiated", "call.answered", "call.bridged"):
        assert (
            _read(event_type, WebhookKind.ANSWER, client_state=state, direction="outgoing") is None
        )


@pytest.mark.parametrize(
    ("event_type", "result", "answerer"),
    [
        ("call.machine.detection.ended", "human", Answerer.HUMAN),
        ("call.machine.detection.ended", "machine", Answerer.MACHINE_GREETING),
        ("call.machine.detection.ended", "not_sure", Answerer.UNKNOWN),
        ("call.machine.greeting.ended", "beep_detected", Answerer.MACHINE_DONE),
        ("call.machine.greeting.ended", "ended", Answerer.MACHINE_DONE),
        ("call.machine.premium.detection.ended", "human_residence", Answerer.HUMAN),
        ("call.machine.premium.detection.ended", "human_business", Answerer.HUMAN),
        ("call.machine.premium.detection.ended", "machine", Answerer.MACHINE_GREETING),
        ("call.machine.premium.detection.ended", "silence", Answerer.UNKNOWN),
        ("call.machine.premium.detection.ended", "fax_detected", Answerer.FAX),
        ("call.machine.premium.greeting.ended", "beep_detected", Answerer.MACHINE_DONE),
        ("call.machine.premium.call_screening.detected", "screening", Answerer.UNKNOWN),
    ],
)
def test_machine_detection(event_type: str, result: str, answerer: Answerer) -> None:
    verdict = _read(event_type, WebhookKind.AMD, result=result)
    assert verdict == MachineVerdict(SID, answerer, result, None)


@pytest.mark.parametrize(
    "body", [b"", b"[]", b'{"data":[]}', b'{"data":{"event_type":1,"payload":{}}}']
)
def test_what_is_not_an_event_reads_as_none(body: bytes) -> None:
    assert HOOKS.read(WebhookKind.STATUS, _request(body, {})) is None


@pytest.mark.parametrize("event_type", ["call.bridged", "streaming.started", "call.speak.ended"])
def test_other_events_mean_nothing_to_us(event_type: str) -> None:
    assert _read(event_type) is None


# ---- respond -------------------------------------------------------------------------------


RINGING = CallPlan(ring_ms=60_000)
STREAM = Connect("wss://hooks.telnyx-test.example/voice/realtime-stream", "tok_in-1")


async def test_outbound_proceed_needs_no_request() -> None:
    async with fake_telnyx(RINGING) as (fake, api, _):
        reply = await TelnyxWebhooks(public_key_b64(), api).respond(CallAnswered(SID), Proceed())
        assert (reply.status, reply.body) == (200, "")
        assert fake.requests == []


async def test_inbound_connect_answers_with_the_stream() -> None:
    async with fake_telnyx(RINGING) as (fake, api, receiver):
        call = await fake.place_inbound_call(from_number=CALLER, to_number=OUR_NUMBER, plan=RINGING)
        hooks = TelnyxWebhooks(public_key_b64(), api)
        event = InboundCall(call.sid, CALLER, OUR_NUMBER)
        reply = await hooks.respond(event, STREAM)
        assert reply.status == 200
        name, body = fake.requests[-1]
        assert name == "answer" and body["stream_url"] == STREAM.stream_url
        assert body["stream_bidirectional_mode"] == "rtp"
        assert body["stream_codec"] == body["stream_bidirectional_codec"] == "PCMU"
        assert read_client_state(body["client_state"]) == ("in", STREAM.token)
        await call.wait_for(lambda: "call.answered" in receiver.types())
        assert call.answered


@pytest.mark.parametrize(
    ("decision", "action", "cause", "final"),
    [
        (Reject(), "reject", "CALL_REJECTED", "failed"),
        (Busy("We are busy."), "reject", "USER_BUSY", "busy"),
        (HangUp(), "hangup", None, "canceled"),
    ],
)
async def test_inbound_refusals(decision: Any, action: str, cause: str | None, final: str) -> None:
    async with fake_telnyx(RINGING) as (fake, api, receiver):
        call = await fake.place_inbound_call(from_number=CALLER, to_number=OUR_NUMBER, plan=RINGING)
        hooks = TelnyxWebhooks(public_key_b64(), api)
        await hooks.respond(InboundCall(call.sid, CALLER, OUR_NUMBER), decision)
        name, body = fake.requests[-1]
        assert name == action and body.get("cause") == cause
        await call.wait_for(call.ended.is_set)
        assert call.status == final and not call.answered
        assert receiver.types() == ["call.initiated", "call.hangup"]


async def test_outbound_hang_up_decision_hangs_up() -> None:
    async with fake_telnyx(RINGING) as (fake, api, _):
        hooks = TelnyxWebhooks(public_key_b64(), api)
        reply = await hooks.respond(CallAnswered("v3:gone"), HangUp())
        assert reply.status == 200  # the REST refusal (404) is logged, not raised
        assert fake.requests == [("hangup", {"call_control_id": "v3:gone"})]


async def test_without_a_rest_client_nothing_is_done() -> None:
    reply = await HOOKS.respond(InboundCall(SID, CALLER, OUR_NUMBER), STREAM)
    assert (reply.status, reply.body) == (200, "")
    assert HOOKS.health() == reply
