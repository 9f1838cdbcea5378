"""Every carrier's webhooks, by hand: signed its own way, or forged its own ways.

One row per carrier (`INPUTS`), so a test that takes `carrier` posts the same requests on
each: a new inbound call, the answer of a call, its completion, an answering-machine
verdict; each signed as the carrier signs it (the fakes' own signers) or forged. Whatever
is carrier-specific is in the row, built from the fakes' signing helpers and the carrier's
own form fields and event bodies; nothing here re-implements a signature.
"""

from __future__ import annotations

import secrets
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

import aiohttp
from nacl.signing import SigningKey

from tests.helpers.twilio_wire import stream_token
from voicecall_rt.carrier.plivo.webhooks import NONCE_HEADER
from voicecall_rt.carrier.plivo.wire import decode_token, read_extra_headers
from voicecall_rt.carrier.signalwire.webhooks import SIGNATURE_HEADER as SIGNALWIRE_HEADER
from voicecall_rt.carrier.telnyx.rest import TelnyxCarrier
from voicecall_rt.carrier.telnyx.wire import read_client_state
from voicecall_rt.config_carriers import CarrierName
from voicecall_rt.simulator.fakes import FakeCarrier
from voicecall_rt.simulator.plivo import fake as plivo_fake
from voicecall_rt.simulator.plivo.carrier import FakePlivo
from voicecall_rt.simulator.plivo.webhooks import sign as plivo_sign
from voicecall_rt.simulator.signalwire import fake as signalwire_fake
from voicecall_rt.simulator.signing import signature_headers
from voicecall_rt.simulator.telnyx import fake as telnyx_fake
from voicecall_rt.simulator.telnyx.carrier import FakeTelnyx, new_call_control_id
from voicecall_rt.simulator.telnyx.webhooks import event_body
from voicecall_rt.simulator.telnyx.webhooks import sign as telnyx_sign
from voicecall_rt.simulator.twilio import fake as twilio_fake
from voicecall_rt.simulator.twilio.carrier import FakeTwilio
from voicecall_rt.simulator.twilio.webhooks import call_params
from voicecall_rt.simulator.world import FROM_NUMBER, PUBLIC_URL, SimWorld

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
CALLER = "+14155550177"
# A key that is not the account's: what a Telnyx forger signs with.
OTHER_TELNYX_KEY = SigningKey(b"voicecall-rt tests: not telnyx's")


@dataclass(frozen=True)
class Hook:
    """One webhook as the carrier would post it: to `path` (our URL, query included), a
    form (`params`) or a JSON `body`."""

    path: str
    params: Mapping[str, str] | None = None
    json: bytes = b""

    @property
    def body(self) -> bytes:
        return urlencode(dict(self.params)).encode() if self.params is not None else self.json

    @property
    def content_type(self) -> str:
        return FORM if self.params is not None else JSON


Headers = dict[str, str]
Forgery = Callable[[Hook], tuple[Headers, Hook]]


def _query(call_id: str | None) -> str:
    return f"?call={call_id}" if call_id else ""


def _unsigned(hook: Hook) -> tuple[Headers, Hook]:
    return {}, hook


def _tampered(sign: Callable[[Hook], Headers], call_sid_field: str) -> Forgery:
    """Signed, then one field changed in flight (a form field, or a JSON body's bytes)."""

    def forge(hook: Hook) -> tuple[Headers, Hook]:
        headers = sign(hook)
        if hook.params is not None:
            params = {**hook.params, call_sid_field: hook.params[call_sid_field] + "0"}
            return headers, replace(hook, params=params)
        return headers, replace(hook, json=hook.json.replace(b'"to":"', b'"to":"+1', 1))

    return forge


@dataclass(frozen=True)
class CarrierInputs:
    """What a test needs to speak to our server as one carrier does, webhooks by hand."""

    name: CarrierName
    new_call_sid: Callable[[], str]
    inbound: Callable[[str, str], Hook]  # (call sid, caller): someone dials our number
    answered: Callable[[str, str], Hook]  # (call sid, our call id): an outbound call is up
    completed: Callable[[str, str], Hook]  # the call ended normally
    verdict: Callable[[str, str, bool], Hook]  # answering-machine detection: machine?
    verdict_raw: Mapping[bool, str]  # what the record's `answered_by` says for each
    sign: Callable[[Hook], Headers]
    forgeries: Mapping[str, Forgery]
    token_of: Callable[[FakeCarrier, str, str], str]  # (fake, call sid, answer body)
    rest_actions: Callable[[FakeCarrier], int]  # REST requests the fake has had so far
    secrets: Mapping[str, str]  # the carrier's secrets, by name: never to be shown
    credential_key: str  # the setting (dotted) whose wrong value the carrier refuses
    account_id: str  # the account's id, shown only masked ("" if the carrier has none)
    streams_at_dial: bool = False  # the dial asks for the stream (Telnyx): no answer document


# ---- Twilio and SignalWire: Twilio's form fields ------------------------------------------


def _twilio_hooks(account: str) -> dict[str, Any]:
    def params(call_sid: str, status: str, direction: str, caller: str = CALLER) -> dict[str, str]:
        ours = {"account_sid": account, "to": FROM_NUMBER}
        return call_params(
            call_sid=call_sid, status=status, from_=caller, direction=direction, **ours
        )

    def verdict(call_sid: str, call_id: str, machine: bool) -> Hook:
        fields = {
            "AccountSid": account,
            "AnsweredBy": "machine_end_beep" if machine else "human",
            "CallSid": call_sid,
            "MachineDetectionDuration": "1800",
        }
        return Hook(f"/voice/amd{_query(call_id)}", fields)

    return {
        "inbound": lambda sid, caller: Hook(
            "/voice/answer", params(sid, "ringing", "inbound", caller)
        ),
        "answered": lambda sid, cid: Hook(
            f"/voice/answer{_query(cid)}", params(sid, "in-progress", "outbound-api")
        ),
        "completed": lambda sid, cid: Hook(
            f"/voice/status{_query(cid)}", params(sid, "completed", "inbound")
        ),
        "verdict": verdict,
        "verdict_raw": {True: "machine_end_beep", False: "human"},
        "token_of": lambda fake, sid, body: stream_token(body),
        "rest_actions": _twilio_rest,
    }


def _twilio_rest(fake: FakeCarrier) -> int:
    assert isinstance(fake, FakeTwilio)  # SignalWire's fake is Twilio's in its dialect
    return len(fake.requests)


def _twilio_sign(hook: Hook, token: str = twilio_fake.AUTH_TOKEN) -> Headers:
    assert hook.params is not None
    return signature_headers(PUBLIC_URL + hook.path, dict(hook.params), auth_token=token)


def _signalwire_sign(hook: Hook, key: str = signalwire_fake.SIGNING_KEY) -> Headers:
    [signature] = _twilio_sign(hook, key).values()
    return {SIGNALWIRE_HEADER: signature}


TWILIO = CarrierInputs(
    name="twilio",
    new_call_sid=lambda: "CA" + secrets.token_hex(16),
    sign=_twilio_sign,
    forgeries={
        "unsigned": _unsigned,
        "wrong-key": lambda hook: (_twilio_sign(hook, "not-the-auth-token"), hook),
        "tampered": _tampered(_twilio_sign, "CallSid"),
    },
    secrets={"Twilio auth token": twilio_fake.AUTH_TOKEN},
    credential_key="twilio.authToken",
    account_id=twilio_fake.ACCOUNT_SID,
    **_twilio_hooks(twilio_fake.ACCOUNT_SID),
)

SIGNALWIRE = CarrierInputs(
    name="signalwire",
    new_call_sid=lambda: str(uuid.uuid4()),
    sign=_signalwire_sign,
    forgeries={
        "unsigned": _unsigned,
        # The API token is the REST credential, never the webhook key.
        "wrong-key": lambda hook: (_signalwire_sign(hook, signalwire_fake.API_TOKEN), hook),
        "tampered": _tampered(_signalwire_sign, "CallSid"),
    },
    secrets={
        "SignalWire API token": signalwire_fake.API_TOKEN,
        "SignalWire Signing Key": signalwire_fake.SIGNING_KEY,
    },
    credential_key="signalwire.apiToken",
    account_id=signalwire_fake.PROJECT_ID,
    **_twilio_hooks(signalwire_fake.PROJECT_ID),
)


# ---- Plivo: its form fields, V3 signatures with a nonce ---------------------------------------


def _plivo_params(call_sid: str, status: str, direction: str, event: str) -> dict[str, str]:
    return {
        "CallUUID": call_sid,
        "CallStatus": status,
        "Direction": direction,
        "Event": event,
        "From": CALLER.removeprefix("+"),  # Plivo writes numbers without the `+`
        "To": FROM_NUMBER.removeprefix("+"),
    }


def _plivo_sign(hook: Hook, token: str = plivo_fake.AUTH_TOKEN) -> Headers:
    assert hook.params is not None
    return plivo_sign(PUBLIC_URL + hook.path, dict(hook.params), token)


def _plivo_bad_nonce(hook: Hook) -> tuple[Headers, Hook]:
    """A genuine signature presented with another nonce than the one it was made with."""
    headers = _plivo_sign(hook)
    headers[NONCE_HEADER] = str(int(headers[NONCE_HEADER]) + 1)
    return headers, hook


def _plivo(fake: FakeCarrier) -> FakePlivo:
    assert isinstance(fake, FakePlivo)
    return fake


def _plivo_token(fake: FakeCarrier, call_sid: str, body: str) -> str:
    [stream] = ET.fromstring(body).iter("Stream")
    return decode_token(read_extra_headers(stream.get("extraHeaders", "")))


PLIVO = CarrierInputs(
    name="plivo",
    new_call_sid=lambda: str(uuid.uuid4()),
    inbound=lambda sid, caller: Hook(
        "/voice/answer",
        {
            **_plivo_params(sid, "ringing", "inbound", "StartApp"),
            "From": caller.removeprefix("+"),
        },
    ),
    answered=lambda sid, cid: Hook(
        f"/voice/answer{_query(cid)}", _plivo_params(sid, "in-progress", "outbound", "StartApp")
    ),
    completed=lambda sid, cid: Hook(
        f"/voice/status{_query(cid)}",
        {**_plivo_params(sid, "completed", "inbound", "Hangup"), "HangupCause": "NORMAL_CLEARING"},
    ),
    verdict=lambda sid, cid, machine: Hook(
        f"/voice/amd{_query(cid)}",
        {
            **_plivo_params(sid, "in-progress", "inbound", "MachineDetection"),
            "Machine": "true" if machine else "false",
        },
    ),
    verdict_raw={True: "machine", False: "human"},
    sign=_plivo_sign,
    forgeries={
        "unsigned": _unsigned,
        "wrong-key": lambda hook: (_plivo_sign(hook, plivo_fake.AUTH_TOKEN + "x"), hook),
        "bad-nonce": _plivo_bad_nonce,
        "tampered": _tampered(_plivo_sign, "CallUUID"),
    },
    token_of=_plivo_token,
    rest_actions=lambda fake: len(_plivo(fake).rest_log),
    secrets={"Plivo auth token": plivo_fake.AUTH_TOKEN},
    credential_key="plivo.authToken",
    account_id=plivo_fake.AUTH_ID,
)


# ---- Telnyx: JSON events, Ed25519 over the timestamp and the body -----------------------------


def _telnyx_hook(path: str, event_type: str, call_sid: str, **extra: Any) -> Hook:
    payload = {
        "call_control_id": call_sid,
        "call_leg_id": "leg-" + call_sid[3:],
        "call_session_id": "sess-" + call_sid[3:],
        "connection_id": telnyx_fake.CONNECTION_ID,
        "from": CALLER,
        "to": FROM_NUMBER,
        **extra,
    }
    return Hook(path, json=event_body(event_type, payload, PUBLIC_URL + path))


def _telnyx_sign(hook: Hook, key: SigningKey | None = None, skew_s: int = 0) -> Headers:
    if key is None:
        return telnyx_sign(hook.json, int(time.time()) + skew_s)
    return telnyx_sign(hook.json, int(time.time()) + skew_s, key)


def _telnyx(fake: FakeCarrier) -> FakeTelnyx:
    assert isinstance(fake, FakeTelnyx)
    return fake


def _telnyx_token(fake: FakeCarrier, call_sid: str, body: str) -> str:
    """The token our server put in the REST answer's `client_state` (Telnyx asks for no
    document: the answer is an action on the call; one answered twice carries one token)."""
    [state] = {
        b.get("client_state")
        for action, b in _telnyx(fake).requests
        if action == "answer" and b.get("call_control_id") == call_sid
    }
    read = read_client_state(state)
    assert read is not None and read[0] == "in", state
    return read[1]


TELNYX = CarrierInputs(
    name="telnyx",
    new_call_sid=new_call_control_id,
    inbound=lambda sid, caller: _telnyx_hook(
        "/voice/answer",
        "call.initiated",
        sid,
        direction="incoming",
        state="parked",
        **{"from": caller},
    ),
    answered=lambda sid, cid: _telnyx_hook(
        f"/voice/status{_query(cid)}", "call.answered", sid, state="answered"
    ),
    completed=lambda sid, cid: _telnyx_hook(
        f"/voice/status{_query(cid)}",
        "call.hangup",
        sid,
        hangup_cause="normal_clearing",
        state="hangup",
    ),
    verdict=lambda sid, cid, machine: _telnyx_hook(
        f"/voice/amd{_query(cid)}",
        "call.machine.detection.ended",
        sid,
        result="machine" if machine else "human",
    ),
    verdict_raw={True: "machine", False: "human"},
    sign=_telnyx_sign,
    forgeries={
        "unsigned": _unsigned,
        "wrong-key": lambda hook: (_telnyx_sign(hook, OTHER_TELNYX_KEY), hook),
        # Genuinely signed, but long ago: a replay.
        "stale-timestamp": lambda hook: (_telnyx_sign(hook, skew_s=-600), hook),
        "tampered": _tampered(_telnyx_sign, "call_control_id"),
    },
    token_of=_telnyx_token,
    rest_actions=lambda fake: len(_telnyx(fake).requests),
    secrets={"Telnyx API key": telnyx_fake.API_KEY},
    credential_key="telnyx.apiKey",
    account_id="",  # an API key alone names the account
    streams_at_dial=TelnyxCarrier.streams_at_dial,
)

INPUTS: Mapping[str, CarrierInputs] = {row.name: row for row in (TWILIO, TELNYX, PLIVO, SIGNALWIRE)}


async def post(
    http: aiohttp.ClientSession, world: SimWorld, hook: Hook, headers: Headers
) -> tuple[int, str]:
    """POST `hook` to our server's loopback address with exactly `headers` (and its
    content type), as a tunnel delivers it."""
    sent = {"Content-Type": hook.content_type, **headers}
    async with http.post(
        world.server.local_url + hook.path, data=hook.body, headers=sent
    ) as response:
        return response.status, await response.text()


async def post_signed(
    http: aiohttp.ClientSession, world: SimWorld, inputs: CarrierInputs, hook: Hook
) -> tuple[int, str]:
    return await post(http, world, hook, inputs.sign(hook))


async def answer_inbound(
    http: aiohttp.ClientSession,
    world: SimWorld,
    inputs: CarrierInputs,
    call_sid: str,
    caller: str = CALLER,
) -> str:
    """Someone dials our number, signed as the carrier signs: the stream token our server
    handed the carrier for the call (in its answer, or in its REST answer action)."""
    status, body = await post_signed(http, world, inputs, inputs.inbound(call_sid, caller))
    assert 200 <= status < 300, (status, body)
    return inputs.token_of(world.carrier, call_sid, body)


def all_secrets() -> dict[str, str]:
    """Every fake carrier's secrets, by name."""
    return {name: value for row in INPUTS.values() for name, value in row.secrets.items()}


def masked(identifier: str) -> str:
    """How an id appears in our output: its first and last four characters."""
    return identifier[:4] + "…" + identifier[-4:]


def sign_badly(fake: FakeCarrier) -> None:
    """Have the fake carrier sign every webhook with a key that is not the account's."""
    assert isinstance(fake, FakeTwilio | FakePlivo | FakeTelnyx)
    fake.bad_signature = True
