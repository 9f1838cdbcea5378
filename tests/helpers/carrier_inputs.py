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
from collections.abc import Mapping
from typing import Any

import aiohttp
from nacl.signing import SigningKey

from tests.helpers.carrier_hooks import (
    CALLER,
    CarrierInputs,
    Headers,
    Hook,
    call_query,
    tampered,
    unsigned,
)
from tests.helpers.twilio_wire import stream_token
from voicecall_rt.carrier.plivo.webhooks import NONCE_HEADER
from voicecall_rt.carrier.plivo.wire import decode_token, read_extra_headers
from voicecall_rt.carrier.signalwire.webhooks import SIGNATURE_HEADER as SIGNALWIRE_HEADER
from voicecall_rt.carrier.telnyx.rest import TelnyxCarrier
from voicecall_rt.carrier.telnyx.wire import read_client_state
from voicecall_rt.simulator.fakes import FakeCarrier
from voicecall_rt.simulator.plivo import fake as plivo_fake
from voicecall_rt.simulator.plivo.carrier import FakePlivo
from voicecall_rt.simulator.plivo.webhooks import sign as plivo_sign
from voicecall_rt.simulator.signalwire import fake as signalwire_fake
from voicecall_rt.simulator.signing import signature_headers
from voicecall_rt.simulator.telnyx import fake as telnyx_fake
from voicecall_rt.simulator.telnyx.carrier import FakeTelnyx
from voicecall_rt.simulator.telnyx.leg import new_call_control_id
from voicecall_rt.simulator.telnyx.webhooks import event_body
from voicecall_rt.simulator.telnyx.webhooks import sign as telnyx_sign
from voicecall_rt.simulator.twilio import fake as twilio_fake
from voicecall_rt.simulator.twilio.carrier import FakeTwilio
from voicecall_rt.simulator.twilio.webhooks import call_params
from voicecall_rt.simulator.world import FROM_NUMBER, PUBLIC_URL, SimWorld

# A key that is not the account's: what a Telnyx forger signs with.
OTHER_TELNYX_KEY = SigningKey(b"voicecall-rt tests: not telnyx's")


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
        return Hook(f"/voice/amd{call_query(call_id)}", fields)

    return {
        "inbound": lambda sid, caller: Hook(
            "/voice/answer", params(sid, "ringing", "inbound", caller)
        ),
        "answered": lambda sid, cid: Hook(
            f"/voice/answer{call_query(cid)}", params(sid, "in-progress", "outbound-api")
        ),
        "completed": lambda sid, cid: Hook(
            f"/voice/status{call_query(cid)}", params(sid, "completed", "inbound")
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
        "unsigned": unsigned,
        "wrong-key": lambda hook: (_twilio_sign(hook, "not-the-auth-token"), hook),
        "tampered": tampered(_twilio_sign, "CallSid"),
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
        "unsigned": unsigned,
        # The API token is the REST credential, never the webhook key.
        "wrong-key": lambda hook: (_signalwire_sign(hook, signalwire_fake.API_TOKEN), hook),
        "tampered": tampered(_signalwire_sign, "CallSid"),
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
        f"/voice/answer{call_query(cid)}", _plivo_params(sid, "in-progress", "outbound", "StartApp")
    ),
    completed=lambda sid, cid: Hook(
        f"/voice/status{call_query(cid)}",
        {**_plivo_params(sid, "completed", "inbound", "Hangup"), "HangupCause": "NORMAL_CLEARING"},
    ),
    verdict=lambda sid, cid, machine: Hook(
        f"/voice/amd{call_query(cid)}",
        {
            **_plivo_params(sid, "in-progress", "inbound", "MachineDetection"),
            "Machine": "true" if machine else "false",
        },
    ),
    verdict_raw={True: "machine", False: "human"},
    sign=_plivo_sign,
    forgeries={
        "unsigned": unsigned,
        "wrong-key": lambda hook: (_plivo_sign(hook, plivo_fake.AUTH_TOKEN + "x"), hook),
        "bad-nonce": _plivo_bad_nonce,
        "tampered": tampered(_plivo_sign, "CallUUID"),
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
        f"/voice/status{call_query(cid)}", "call.answered", sid, state="answered"
    ),
    completed=lambda sid, cid: _telnyx_hook(
        f"/voice/status{call_query(cid)}",
        "call.hangup",
        sid,
        hangup_cause="normal_clearing",
        state="hangup",
    ),
    verdict=lambda sid, cid, machine: _telnyx_hook(
        f"/voice/amd{call_query(cid)}",
        "call.machine.detection.ended",
        sid,
        result="machine" if machine else "human",
    ),
    verdict_raw={True: "machine", False: "human"},
    sign=_telnyx_sign,
    forgeries={
        "unsigned": unsigned,
        "wrong-key": lambda hook: (_telnyx_sign(hook, OTHER_TELNYX_KEY), hook),
        # Genuinely signed, but long ago: a replay.
        "stale-timestamp": lambda hook: (_telnyx_sign(hook, skew_s=-600), hook),
        "tampered": tampered(_telnyx_sign, "call_control_id"),
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
