"""Plivo's webhooks: the V3 signature we check, the form fields we read, the Plivo XML we
answer (docs/protocols.md §7). `PlivoWebhooks` is Plivo's `carrier.base.CarrierWebhooks`.

Which URL Plivo called says what a webhook is: the dial sets `answer_url`, `ring_url` and
`hangup_url` (both our status URL) and `machine_detection_url`; an inbound call fetches the
number's application's answer URL.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final, assert_never
from urllib.parse import urlsplit

from plivo import plivoxml
from plivo.exceptions import PlivoRestError
from plivo.utils.signature_v3 import validate_v3_signature

from voicecall_rt.call.records import CallStatus
from voicecall_rt.carrier.base import (
    Answerer,
    Busy,
    CallAnswered,
    Connect,
    Decision,
    Dial,
    HangUp,
    InboundCall,
    MachineVerdict,
    Proceed,
    Reject,
    StatusChanged,
    WebhookRequest,
)
from voicecall_rt.carrier.document_webhooks import DocumentWebhooks
from voicecall_rt.carrier.plivo.wire import STREAM_CONTENT_TYPE, extra_headers

log = logging.getLogger(__name__)

PLIVO_XML: Final = "application/xml"
SIGNATURE_HEADER: Final = "X-Plivo-Signature-V3"
NONCE_HEADER: Final = "X-Plivo-Signature-V3-Nonce"

# Plivo's `CallStatus` (ring, answer and hangup callbacks), in our words.
STATUSES: Final[Mapping[str, CallStatus]] = {
    "queued": CallStatus.QUEUED,
    "ringing": CallStatus.RINGING,
    "in-progress": CallStatus.IN_PROGRESS,
    "completed": CallStatus.COMPLETED,
    "busy": CallStatus.BUSY,
    "failed": CallStatus.FAILED,
    "no-answer": CallStatus.NO_ANSWER,
    "timeout": CallStatus.NO_ANSWER,  # ring_timeout ran out
    "cancel": CallStatus.CANCELED,  # cancelled before answer (our DELETE /Request/)
    "canceled": CallStatus.CANCELED,
}


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value


def _params(form: Mapping[str, str]) -> dict[str, Any]:
    """The form as the SDK signs it: a repeated field is a list of its values."""
    getall = getattr(form, "getall", None)
    params: dict[str, Any] = {}
    for key in form:
        if key in params:
            continue
        values = list(getall(key)) if getall is not None else [form[key]]
        params[key] = values if len(values) > 1 else values[0]
    return params


def signature_valid(
    auth_token: str,
    method: str,
    url: str,
    params: Mapping[str, str],
    signature: str | None,
    nonce: str | None,
) -> bool:
    """`X-Plivo-Signature-V3` (one or more, comma-separated) over the URL Plivo requested,
    the nonce and, for a POST, the form: the plivo package's own `validate_v3_signature`."""
    if not signature or not nonce or not auth_token or method.upper() not in ("GET", "POST"):
        return False
    try:
        return bool(
            validate_v3_signature(
                method.upper(),
                url,
                nonce,
                auth_token,
                signature,
                _params(params) if method.upper() == "POST" else {},
            )
        )
    except PlivoRestError:  # the SDK's argument checks (a URL it does not take)
        return False


def stream_xml(stream_url: str, token: str) -> str:
    """Bridge the call to our media WebSocket: µ-law 8 kHz both ways (Plivo's default is
    L16), bidirectional (which needs the inbound track only), the call kept up while the
    stream is, the token in `extraHeaders`."""
    response = plivoxml.ResponseElement()
    response.add(
        plivoxml.StreamElement(
            stream_url,
            bidirectional=True,
            audioTrack="inbound",
            contentType=STREAM_CONTENT_TYPE,
            extraHeaders=extra_headers(token),
            keepCallAlive=True,
        )
    )
    return str(response.to_string(False))


def dial_xml(number: str, caller_id: str) -> str:
    """The transfer document (what the Transfer Call API's `aleg_url` answers): dial
    `number` showing `caller_id`, both in Plivo's digits-only form."""
    response = plivoxml.ResponseElement()
    dial = plivoxml.DialElement(caller_id=caller_id.removeprefix("+"))
    dial.add_number(number.removeprefix("+"))
    response.add(dial)
    return str(response.to_string(False))


def reject_xml() -> str:
    response = plivoxml.ResponseElement()
    response.add_hangup(reason="rejected")
    return str(response.to_string(False))


def speak_and_hang_up_xml(text: str) -> str:
    response = plivoxml.ResponseElement()
    response.add_speak(text)
    response.add_hangup()
    return str(response.to_string(False))


def hang_up_xml() -> str:
    response = plivoxml.ResponseElement()
    response.add_hangup()
    return str(response.to_string(False))


def answerer_of(machine: str) -> Answerer:
    """Plivo's `Machine` (asynchronous machine detection), neutral.

    Plivo sends one verdict and nothing at the greeting's end or a beep, so `true` is all
    we will ever hear of a machine: it counts as a machine whose greeting is over (the
    voicemail is left then), else no voicemail could ever be left on Plivo."""
    value = machine.strip().lower()
    if value == "true":
        return Answerer.MACHINE_DONE
    if value == "false":
        return Answerer.HUMAN
    return Answerer.UNKNOWN


class PlivoWebhooks(DocumentWebhooks):
    """Plivo's webhooks, read and answered (see `carrier.base.CarrierWebhooks`), signed with
    the account's Auth Token (V3: HMAC-SHA256 with a nonce)."""

    __slots__ = ("_auth_token",)

    document_type = PLIVO_XML

    def __init__(self, auth_token: str) -> None:
        self._auth_token = auth_token

    def verify(self, request: WebhookRequest) -> bool:
        headers = request.headers
        if signature_valid(
            self._auth_token,
            request.method,
            request.url,
            request.form,
            _header(headers, SIGNATURE_HEADER),
            _header(headers, NONCE_HEADER),
        ):
            return True
        log.warning(
            "refused %s %s: missing or invalid Plivo V3 signature",
            request.method,
            urlsplit(request.url).path,
        )
        return False

    def answer_event(self, request: WebhookRequest) -> CallAnswered | InboundCall:
        form = request.form
        if form.get("Direction", "") == "inbound":
            return InboundCall(
                call_sid=form.get("CallUUID", ""),
                from_number=_e164(form.get("From", "")),
                to_number=_e164(form.get("To", "")),
            )
        return CallAnswered(call_sid=form.get("CallUUID", ""), dial_id=form.get("RequestUUID", ""))

    def status_event(self, request: WebhookRequest) -> StatusChanged:
        form = request.form
        raw = form.get("CallStatus", "")
        return StatusChanged(
            call_sid=form.get("CallUUID", ""),
            status=STATUSES.get(raw),
            raw=raw,
            dial_id=form.get("RequestUUID", ""),
        )

    def machine_event(self, request: WebhookRequest) -> MachineVerdict:
        form = request.form
        machine = form.get("Machine", "")
        return MachineVerdict(
            call_sid=form.get("CallUUID", ""),
            answerer=answerer_of(machine),
            raw="machine" if machine.lower() == "true" else "human" if machine else "unknown",
            duration_ms=None,  # Plivo does not say how long detection took
            dial_id=form.get("RequestUUID", ""),
        )

    def render(self, decision: Decision) -> str:
        match decision:
            case Connect():
                return stream_xml(decision.stream_url, decision.token)
            case Busy():
                return speak_and_hang_up_xml(decision.message)
            case Reject():
                return reject_xml()
            case Dial():
                return dial_xml(decision.number, decision.caller_id)
            case HangUp() | Proceed():
                # Plivo streams only from the answer XML: nothing was dialled to proceed with.
                return hang_up_xml()
        assert_never(decision)


def _e164(number: str) -> str:
    """Plivo writes numbers without the `+` (`14155550100`); ours are E.164."""
    number = number.strip()
    return "+" + number if number.isdigit() else number
