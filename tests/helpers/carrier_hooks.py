"""A carrier's webhook by hand (`Hook`), the forgeries every carrier shares, and what one
carrier's row holds (`CarrierInputs`); the rows themselves are in carrier_inputs.py."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from urllib.parse import urlencode

from voicecall_rt.config_carriers import CarrierName
from voicecall_rt.simulator.fakes import FakeCarrier

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
CALLER = "+14155550177"


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


def call_query(call_id: str | None) -> str:
    return f"?call={call_id}" if call_id else ""


def unsigned(hook: Hook) -> tuple[Headers, Hook]:
    return {}, hook


def tampered(sign: Callable[[Hook], Headers], call_sid_field: str) -> Forgery:
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
