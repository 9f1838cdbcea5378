"""The carrier in front of several instances: each instance has a public host of its own
(`https://vc-1.voicecall-rt.test`, …), as docs/scaling.md asks, and the tunnel routes
each host to its instance's port.

A webhook for an instance is signed over that instance's public URL (it checks the
signature against its own `publicUrl`), and the stream it answers with points at the same
host, so the call's media goes back to the instance that owns it. Twilio only: the other
carriers' sides sign over the one public URL of `sim_account.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from benchmarks.calls import RunOptions
from benchmarks.sides import CarrierSide
from benchmarks.sides.twilio import TwilioSide
from benchmarks.sim_account import PUBLIC_URL


def instance_url(number: int) -> str:
    """Instance `number`'s public URL (1-based)."""
    return f"https://vc-{number}.voicecall-rt.test"


class HostTwilioSide(TwilioSide):
    """Twilio, signing every webhook over one instance's public URL."""

    def __init__(self, public_url: str) -> None:
        self.public_url = public_url

    def signed(self, url: str, params: dict[str, str]) -> dict[str, str]:
        # TwilioSide builds its URLs on the single-instance public URL; the host differs
        return super().signed(self.public_url + url.removeprefix(PUBLIC_URL), params)


@dataclass
class InstanceOptions(RunOptions):
    """A run's options for the calls one instance takes: its public URL too."""

    public_url: str = PUBLIC_URL
    _side: Any = field(default=None, repr=False, compare=False)

    @property
    def side(self) -> CarrierSide:
        if self._side is None:
            self._side = HostTwilioSide(self.public_url)
        side: CarrierSide = self._side
        return side
