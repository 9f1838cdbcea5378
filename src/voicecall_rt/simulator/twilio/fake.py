"""The fake Twilio as `simulator.fakes` makes it for a world, and our settings for it."""

from __future__ import annotations

from typing import Any

from voicecall_rt.simulator.fakes import FakeCarrier, FakeParams, FakeSpec
from voicecall_rt.simulator.signing import SharedKey
from voicecall_rt.simulator.twilio.carrier import FakeTwilio

ACCOUNT_SID = "AC" + "5e" * 16
AUTH_TOKEN = "sim-auth-token-0123456789abcdef"  # noqa: S105 - the simulator's own token


def make(params: FakeParams) -> FakeTwilio:
    """`options`: `shared_key` (a SharedKey: webhooks signed with it, Twilio's SHA-256
    scheme, and our server given its secret)."""
    shared_key = params.options.get("shared_key")
    assert shared_key is None or isinstance(shared_key, SharedKey)
    return FakeTwilio(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        tunnel={},  # routed once our server has its port
        plans=params.plans,
        owned_numbers=(params.from_number,),
        voice_url=params.answer_url,
        shared_key=shared_key,
    )


def settings(fake: FakeCarrier) -> dict[str, Any]:
    assert isinstance(fake, FakeTwilio)
    flat: dict[str, Any] = {
        "twilio.accountSid": ACCOUNT_SID,
        "twilio.authToken": AUTH_TOKEN,
        "twilio.apiBaseUrl": fake.api_base_url,
    }
    if fake.shared_key is not None:
        flat["twilio.webhookSharedKeys"] = [fake.shared_key.secret]
    return flat


SPEC = FakeSpec(make=make, settings=settings)
