"""Telnyx Call Control v2: dial with the stream requested in the dial, act on a call (answer,
reject, hang up, press keys), check the account (docs/protocols.md §6).

REST goes through the official `telnyx` SDK's async client; its base URL is configurable
(`telnyx.apiBaseUrl`) so the offline simulator can stand in for api.telnyx.com.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Final, Literal

import telnyx

from voicecall_rt.audio.dtmf import PAUSE_CHARS, PAUSE_MS
from voicecall_rt.carrier.base import CarrierError, Connect, OutboundRequest, Transfer
from voicecall_rt.carrier.telnyx.wire import CODEC, Direction, client_state, transfer_state

log = logging.getLogger(__name__)

# Hang-up of a call that is already over: Telnyx answers 422 with this code.
CALL_ALREADY_ENDED = "90018"
RejectCause = Literal["CALL_REJECTED", "USER_BUSY"]
# send_dtmf's duration_millis: how long Telnyx sounds each key (100-500, default 250).
KEY_MS: Final = 250
# Telnyx states no gap between keys: our in-band tones' gap.
KEY_GAP_MS: Final = 80


def mask_id(value: str) -> str:
    """First 4 and last 4 characters only (how ids appear in our output)."""
    return value[:4] + "…" + value[-4:] if len(value) > 8 else "…"


def error_code(exc: telnyx.APIStatusError) -> str:
    """The first Telnyx error code in a refusal's body (`{"errors":[{"code":"90018",…}]}`)."""
    body = exc.body
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("code", ""))
    return ""


def _title(exc: telnyx.APIStatusError) -> str:
    body = exc.body
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        title = str(errors[0].get("title") or errors[0].get("detail") or "")
        if title:
            return title.splitlines()[0][:200]
    return "request refused"


def carrier_error(exc: telnyx.APIError) -> CarrierError:
    """A refusal or an unreachable API, safely worded (the key is never in Telnyx's body)."""
    if isinstance(exc, telnyx.APIStatusError):
        code = error_code(exc)
        return CarrierError(
            f"Telnyx refused the request ({exc.status_code}, code {code or '-'}): {_title(exc)}",
            status=exc.status_code,
            code=int(code) if code.isdigit() else None,
        )
    return CarrierError(f"cannot reach Telnyx: {type(exc).__name__}")


def stream_params(stream: Connect, direction: Direction) -> dict[str, Any]:
    """The stream fields of a dial or an answer: PCMU both ways, set explicitly (the
    received codec would otherwise be the PSTN leg's, PCMA in much of Europe), RTP
    bidirectional mode (without it our audio is silently dropped), the token in
    `client_state` (see `carrier.telnyx.wire`)."""
    return {
        "stream_url": stream.stream_url,
        "stream_track": "inbound_track",
        "stream_bidirectional_mode": "rtp",
        "stream_codec": CODEC,
        "stream_bidirectional_codec": CODEC,
        "client_state": client_state(direction, stream.token),
    }


def keys_ms(digits: str) -> int:
    """How long Telnyx takes to sound `digits`: each key and a gap, each pause half a second."""
    pauses = sum(1 for d in digits if d in PAUSE_CHARS)
    return (len(digits) - pauses) * (KEY_MS + KEY_GAP_MS) + pauses * PAUSE_MS


def telnyx_digits(digits: str) -> str:
    """Our keypad string in Telnyx's alphabet: `w` is its half-second pause, so is our `,`."""
    return digits.replace(",", "w")


class TelnyxCarrier:
    """REST client for one account. Create inside a running event loop; `close()` when done."""

    # The stream is requested in the dial: Call Control has no answer document.
    streams_at_dial = True

    def __init__(self, api_key: str, connection_id: str, api_base_url: str) -> None:
        self.connection_id = connection_id
        # No retries: a dial retried after a timeout could ring the callee twice.
        self._client = telnyx.AsyncTelnyx(
            api_key=api_key, base_url=api_base_url.rstrip("/"), max_retries=0, timeout=15.0
        )

    async def close(self) -> None:
        await self._client.close()

    async def create_call(self, request: OutboundRequest) -> str:
        """Dial with the stream in the dial; returns the call_control_id."""
        if request.stream is None:
            raise CarrierError("Telnyx needs the media stream in the dial")
        extra: dict[str, Any] = {}
        if request.amd_url is not None:
            # Asynchronous: the call is bridged at once; `call.machine.detection.ended` and,
            # for a machine, `call.machine.greeting.ended` arrive on the webhook URL.
            extra["answering_machine_detection"] = "greeting_end"
        try:
            response = await self._client.calls.dial(
                connection_id=self.connection_id,
                to=request.to,
                from_=request.from_,
                webhook_url=request.status_url,
                webhook_url_method="POST",
                timeout_secs=request.ring_timeout_s,
                time_limit_secs=request.time_limit_s,
                **stream_params(request.stream, "out"),
                **extra,
            )
        except telnyx.APIError as exc:
            raise carrier_error(exc) from None
        data = response.data
        if data is None or not data.call_control_id:
            raise CarrierError("Telnyx accepted the dial but returned no call_control_id")
        return data.call_control_id

    async def hang_up(self, call_sid: str) -> None:
        """End the call; one that has already ended (422, code 90018) counts as hung up."""
        try:
            await self._client.calls.actions.hangup(call_sid)
        except telnyx.APIStatusError as exc:
            if exc.status_code == 422 and error_code(exc) == CALL_ALREADY_ENDED:
                return
            raise carrier_error(exc) from None
        except telnyx.APIError as exc:
            raise carrier_error(exc) from None

    async def send_digits(self, call_sid: str, digits: str) -> bool:
        """`send_dtmf`: a command of its own, so the stream stays up. Returns once the keys
        have sounded: Telnyx accepts the command at once and plays them after, so a hang-up
        (the model's next move) right on acceptance would cut them."""
        try:
            await self._client.calls.actions.send_dtmf(
                call_sid, digits=telnyx_digits(digits), duration_millis=KEY_MS
            )
        except telnyx.APIError as exc:
            raise carrier_error(exc) from None
        await asyncio.sleep(keys_ms(digits) / 1000)
        return True

    async def transfer(self, call_sid: str, transfer: Transfer) -> None:
        """Call Control's `transfer`: Telnyx dials `to` from `from` and bridges the call to
        it. If the new leg never answers, Telnyx leaves this call up: the new leg's
        `call.hangup` must name our call, so it gets a state that does
        (`target_leg_client_state`, the SDK's field for the new leg); this call gets the
        same state (`client_state`), so the events name our call whichever leg's state
        Telnyx words them with (docs/protocols.md §6)."""
        state = transfer_state(transfer.call_id)
        try:
            await self._client.calls.actions.transfer(
                call_sid,
                to=transfer.number,
                from_=transfer.caller_id,
                client_state=state,
                target_leg_client_state=state,
            )
        except telnyx.APIError as exc:
            raise carrier_error(exc) from None

    async def answer(self, call_sid: str, stream: Connect) -> None:
        """Answer an inbound call with the stream (and its token) in the answer."""
        try:
            await self._client.calls.actions.answer(call_sid, **stream_params(stream, "in"))
        except telnyx.APIError as exc:
            raise carrier_error(exc) from None

    async def reject(self, call_sid: str, cause: RejectCause) -> None:
        try:
            await self._client.calls.actions.reject(call_sid, cause=cause)
        except telnyx.APIError as exc:
            raise carrier_error(exc) from None

    async def fetch_balance(self) -> str:
        """The account's balance and currency (a request that proves the key works)."""
        try:
            response = await self._client.balance.retrieve()
        except telnyx.APIError as exc:
            raise carrier_error(exc) from None
        data = response.data
        if data is None:
            return "unknown"
        return f"{data.balance} {data.currency}"

    async def owns_number(self, number: str) -> bool:
        try:
            page = await self._client.phone_numbers.list(filter={"phone_number": number})
        except telnyx.APIError as exc:
            raise carrier_error(exc) from None
        return any(item.phone_number == number for item in page.data)
