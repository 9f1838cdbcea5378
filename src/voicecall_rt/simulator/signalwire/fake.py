"""The fake SignalWire as `simulator.fakes` makes it for a world, and our settings for it:
the fake Twilio (`simulator.twilio`) in SignalWire's dialect (`simulator.signalwire.dialect`),
with a project's three credentials kept apart (the API token for REST, the Signing Key for
webhooks)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from voicecall_rt.simulator.fakes import FakeCarrier, FakeParams, FakeSpec
from voicecall_rt.simulator.scenario import CallPlan
from voicecall_rt.simulator.signalwire.dialect import SIGNALWIRE
from voicecall_rt.simulator.twilio.carrier import FakeTwilio

PROJECT_ID: Final = "5e5e5e5e-0000-4000-8000-5e5e5e5e5e5e"
API_TOKEN: Final = "PTsim-api-token-0123456789abcdef"  # noqa: S105 - the simulator's own
SIGNING_KEY: Final = "PSKsim-signing-key-fedcba9876543210"


def fake_signalwire(
    *,
    plans: Callable[[str], CallPlan] | CallPlan,
    owned_numbers: tuple[str, ...] = (),
    **knobs: Any,
) -> FakeTwilio:
    """A fake SignalWire project (`knobs`: the fake Twilio's, e.g. `voice_url`, `tunnel`)."""
    knobs.setdefault("tunnel", {})
    return FakeTwilio(
        account_sid=PROJECT_ID,
        auth_token=API_TOKEN,
        signing_key=SIGNING_KEY,
        dialect=SIGNALWIRE,
        plans=plans,
        owned_numbers=owned_numbers,
        **knobs,
    )


def make(params: FakeParams) -> FakeTwilio:
    """No `options`: SignalWire has one signing scheme."""
    if params.options:
        raise ValueError(f"the fake SignalWire takes no options: {sorted(params.options)}")
    return fake_signalwire(
        plans=params.plans, owned_numbers=(params.from_number,), voice_url=params.answer_url
    )


def settings(fake: FakeCarrier) -> dict[str, Any]:
    assert isinstance(fake, FakeTwilio) and fake.dialect is SIGNALWIRE
    return {
        "signalwire.projectId": PROJECT_ID,
        "signalwire.apiToken": API_TOKEN,
        "signalwire.signingKey": SIGNING_KEY,
        "signalwire.apiBaseUrl": fake.api_base_url,
    }


SPEC = FakeSpec(make=make, settings=settings)
