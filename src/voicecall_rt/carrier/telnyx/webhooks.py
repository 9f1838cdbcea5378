"""Telnyx's webhooks: the Ed25519 signature we check, the JSON events we read, and the REST
actions that carry out a decision (docs/protocols.md §6). `TelnyxWebhooks` is Telnyx's
`carrier.base.CarrierWebhooks`.

Call Control never asks for a document: every event of a call is posted, as JSON, to the
dial's `webhook_url` (our status URL, `?call=` included) or, for an inbound call, to the
Call Control application's URL (our answer URL). So an event is read by its own
`event_type`, whichever of our URLs it reached, and a decision becomes a REST action.
The events of a transfer's legs are told by their `client_state` (`wire.transfer_state`),
which names our call: of those, only a `call.hangup` means something to us.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit

import orjson
from telnyx.lib.webhook_verification import WebhookVerificationError, verify_webhook_signature

from voicecall_rt.call.records import CallStatus
from voicecall_rt.carrier.base import (
    Answerer,
    Busy,
    CallAnswered,
    CarrierError,
    CarrierEvent,
    Connect,
    Decision,
    Dial,
    HangUp,
    InboundCall,
    MachineVerdict,
    Proceed,
    Reject,
    Reply,
    StatusChanged,
    TransferLegEnded,
    WebhookKind,
    WebhookRequest,
)
from voicecall_rt.carrier.telnyx.rest import TelnyxCarrier, mask_id
from voicecall_rt.carrier.telnyx.wire import read_client_state, read_transfer_state

log = logging.getLogger(__name__)

EMPTY: Final = Reply("", "text/plain")

# `call.hangup`'s `hangup_cause`, in our (Twilio's) vocabulary. `call_rejected` is the far
# end or the network refusing the call (SIP 603 and the like): it never connected, and it
# was not us cancelling it, so `failed`. `unspecified` still ends the call.
HANGUP_STATUS: Final[Mapping[str, CallStatus]] = {
    "normal_clearing": CallStatus.COMPLETED,
    "time_limit": CallStatus.COMPLETED,
    "unspecified": CallStatus.COMPLETED,
    "originator_cancel": CallStatus.CANCELED,
    "user_busy": CallStatus.BUSY,
    "busy": CallStatus.BUSY,
    "timeout": CallStatus.NO_ANSWER,
    "no_answer": CallStatus.NO_ANSWER,
    "call_rejected": CallStatus.FAILED,
    "not_found": CallStatus.FAILED,
}

# Answering-machine verdicts. Standard detection (`greeting_end`) sends `detection.ended`
# (human / machine / not_sure), then, for a machine, `greeting.ended` once its greeting (and
# beep) is over; premium detection has its own results.
DETECTION_RESULT: Final[Mapping[str, Answerer]] = {
    "human": Answerer.HUMAN,
    "human_residence": Answerer.HUMAN,
    "human_business": Answerer.HUMAN,
    "machine": Answerer.MACHINE_GREETING,
    "fax_detected": Answerer.FAX,
}
MACHINE_EVENTS: Final = frozenset(
    {
        "call.machine.detection.ended",
        "call.machine.premium.detection.ended",
        "call.machine.greeting.ended",
        "call.machine.premium.greeting.ended",
        "call.machine.premium.call_screening.detected",
    }
)


def answerer_of(event_type: str, result: str) -> Answerer:
    """A machine-detection event and its `result`, neutral."""
    if event_type.endswith(".greeting.ended"):
        return Answerer.MACHINE_DONE  # beep_detected, ended, prompt_ended: the greeting is over
    return DETECTION_RESULT.get(result, Answerer.UNKNOWN)


def status_of(hangup_cause: str) -> CallStatus | None:
    return HANGUP_STATUS.get(hangup_cause)


def _event(body: bytes) -> tuple[str, dict[str, Any]]:
    """`(data.event_type, data.payload)` of a webhook body; ("", {}) if it has none."""
    try:
        message = orjson.loads(body)
    except orjson.JSONDecodeError:
        return "", {}
    data = message.get("data") if isinstance(message, dict) else None
    if not isinstance(data, dict):
        return "", {}
    event_type, payload = data.get("event_type"), data.get("payload")
    if not isinstance(event_type, str) or not isinstance(payload, dict):
        return "", {}
    return event_type, payload


def _text(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    return value if isinstance(value, str) else ""


class TelnyxWebhooks:
    """Telnyx's webhooks, read and carried out (see `carrier.base.CarrierWebhooks`).

    `public_key`: the account's Ed25519 public key (base64); None refuses every webhook.
    `api`: the REST client the decisions on an inbound call are carried out with."""

    __slots__ = ("_api", "_public_key")

    def __init__(self, public_key: str | None, api: TelnyxCarrier | None) -> None:
        self._public_key = public_key
        self._api = api

    def verify(self, request: WebhookRequest) -> bool:
        path = urlsplit(request.url).path
        if not self._public_key:
            log.warning("refused %s %s: telnyx.publicKey is not set", request.method, path)
            return False
        try:
            # Decoded here: the SDK would raise UnicodeDecodeError on a body that is not UTF-8.
            body = request.body.decode()
            verify_webhook_signature(body, request.headers, self._public_key)
        except (UnicodeDecodeError, WebhookVerificationError) as exc:
            # The SDK's reasons name a header or the clock, never a secret; they may quote
            # what the sender put in a header, hence repr and a length cap.
            reason = exc.message if isinstance(exc, WebhookVerificationError) else "not UTF-8"
            log.warning("refused %s %s: %r", request.method, path, reason[:120])
            return False
        return True

    def read(self, kind: WebhookKind, request: WebhookRequest) -> CarrierEvent | None:
        event_type, payload = _event(request.body)
        sid = _text(payload, "call_control_id")
        transferred = read_transfer_state(payload.get("client_state"))
        if transferred is not None:
            # A leg of a transfer (the person dialled, or the caller's leg once handed
            # over): its answer is no call of ours to decide on, only its end matters.
            if event_type != "call.hangup":
                return None
            cause = _text(payload, "hangup_cause")
            return TransferLegEnded(transferred, sid, status_of(cause), cause or event_type)
        if event_type == "call.initiated":
            if _text(payload, "direction") == "incoming":
                return InboundCall(
                    call_sid=sid,
                    from_number=_text(payload, "from"),
                    to_number=_text(payload, "to"),
                )
            return StatusChanged(call_sid=sid, status=CallStatus.QUEUED, raw=event_type)
        if event_type == "call.answered":
            state = read_client_state(payload.get("client_state"))
            if state is not None and state[0] == "in":
                # An inbound call we answered: it is up, and nothing is left to decide.
                return StatusChanged(call_sid=sid, status=CallStatus.IN_PROGRESS, raw=event_type)
            return CallAnswered(call_sid=sid)
        if event_type == "call.hangup":
            cause = _text(payload, "hangup_cause")
            return StatusChanged(call_sid=sid, status=status_of(cause), raw=cause or event_type)
        if event_type in MACHINE_EVENTS:
            result = _text(payload, "result")
            return MachineVerdict(
                call_sid=sid,
                answerer=answerer_of(event_type, result),
                raw=result or event_type,
                duration_ms=None,
            )
        return None

    async def respond(self, event: CallAnswered | InboundCall, decision: Decision) -> Reply:
        """Carry `decision` out by REST; Telnyx only wants a 2xx back."""
        if isinstance(event, CallAnswered) and isinstance(decision, Proceed):
            return EMPTY  # the stream, token included, was requested in the dial
        api = self._api
        if api is None:
            log.warning("cannot act on Telnyx call %s: no REST client", mask_id(event.call_sid))
            return EMPTY
        try:
            await self._act(api, event, decision)
        except CarrierError as exc:
            log.warning("Telnyx call %s: %s", mask_id(event.call_sid), exc)
        return EMPTY

    async def _act(
        self, api: TelnyxCarrier, event: CallAnswered | InboundCall, decision: Decision
    ) -> None:
        sid = event.call_sid
        if isinstance(event, InboundCall):
            match decision:
                case Connect():
                    await api.answer(sid, decision)
                    return
                case Reject():
                    await api.reject(sid, "CALL_REJECTED")
                    return
                case Busy():
                    # A busy signal from the network, unanswered and unbilled: saying the
                    # message would take answer, speak, wait for `call.speak.ended`, hang up.
                    await api.reject(sid, "USER_BUSY")
                    return
                case HangUp() | Proceed() | Dial():
                    pass  # a document to dial: Telnyx fetches none (its transfer is REST)
        elif not isinstance(decision, HangUp):
            # Connect after a dial that already carried the stream cannot happen: end it.
            log.warning("Telnyx call %s: unexpected %s", mask_id(sid), type(decision).__name__)
        await api.hang_up(sid)

    def health(self) -> Reply:
        return EMPTY
