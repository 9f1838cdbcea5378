"""The fake Plivo as `simulator.fakes` makes it for a world, and our settings for it."""

from __future__ import annotations

from typing import Any

from voicecall_rt.simulator.fakes import FakeCarrier, FakeParams, FakeSpec
from voicecall_rt.simulator.plivo.carrier import FakePlivo

AUTH_ID = "MA" + "SIMULATOR0PLIVO001"
AUTH_TOKEN = "sim-plivo-auth-token-0123456789"  # noqa: S105 - the simulator's own token


def make(params: FakeParams) -> FakePlivo:
    return FakePlivo(
        auth_id=AUTH_ID,
        auth_token=AUTH_TOKEN,
        plans=params.plans,
        owned_numbers=(params.from_number,),
        answer_url=params.answer_url,
    )


def settings(fake: FakeCarrier) -> dict[str, Any]:
    assert isinstance(fake, FakePlivo)
    return {
        "plivo.authId": AUTH_ID,
        "plivo.authToken": AUTH_TOKEN,
        "plivo.apiBaseUrl": fake.api_base_url,
    }


SPEC = FakeSpec(make=make, settings=settings)
