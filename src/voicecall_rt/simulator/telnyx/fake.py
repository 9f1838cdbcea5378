"""The fake Telnyx as `simulator.fakes` makes it for a world, and our settings for it."""

from __future__ import annotations

from typing import Any

from voicecall_rt.simulator.fakes import FakeCarrier, FakeParams, FakeSpec
from voicecall_rt.simulator.telnyx.carrier import FakeTelnyx
from voicecall_rt.simulator.telnyx.webhooks import public_key_b64

API_KEY = "KEYsim0123456789abcdef_telnyx"  # the simulator's own key
CONNECTION_ID = "1494404757140276705"


def make(params: FakeParams) -> FakeTelnyx:
    """`options`: `leg_codec` (the PSTN leg's codec, PCMA by default)."""
    return FakeTelnyx(
        api_key=API_KEY,
        connection_id=CONNECTION_ID,
        tunnel={},  # routed once our server has its port
        plans=params.plans,
        owned_numbers=(params.from_number,),
        connection_webhook_url=params.answer_url,
        leg_codec=str(params.options.get("leg_codec", "PCMA")),
    )


def settings(fake: FakeCarrier) -> dict[str, Any]:
    assert isinstance(fake, FakeTelnyx)
    return {
        "telnyx.apiKey": API_KEY,
        "telnyx.connectionId": CONNECTION_ID,
        "telnyx.publicKey": public_key_b64(),
        "telnyx.apiBaseUrl": fake.api_base_url,
    }


SPEC = FakeSpec(make=make, settings=settings)
