"""A world's fake carrier as its concrete type, for tests that read what only one fake
records (Twilio's `created` and `updates`, its signing key...).

`SimWorld.carrier` is the neutral `FakeCarrier`; a test written for one carrier says so here
and fails at once, with the carrier it got, if its world plays another.
"""

from __future__ import annotations

from voicecall_rt.simulator.telnyx.carrier import FakeTelnyx
from voicecall_rt.simulator.twilio.carrier import FakeTwilio
from voicecall_rt.simulator.twilio.dialect import TWILIO
from voicecall_rt.simulator.world import SimWorld


def twilio_of(world: SimWorld) -> FakeTwilio:
    """The world's fake Twilio (Twilio itself, not SignalWire in Twilio's dialect)."""
    fake = world.carrier
    assert isinstance(fake, FakeTwilio) and fake.dialect is TWILIO, world.carrier_name
    return fake


def telnyx_of(world: SimWorld) -> FakeTelnyx:
    """The world's fake Telnyx."""
    fake = world.carrier
    assert isinstance(fake, FakeTelnyx), world.carrier_name
    return fake
