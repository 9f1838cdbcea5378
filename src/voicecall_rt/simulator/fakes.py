"""The fake carriers, by the name `carrier` takes in our config: what a simulated world, the
demo and the tests need of any of them (`FakeCarrier`), and how each is made and how our
server is configured to use it (`FAKES`).

A fake carrier plays its carrier's REST API, its signed webhooks and its media stream's
wire format on loopback, and the tunnel: it delivers every request to our server itself.
The calls it carries are carrier-neutral `SimCall`s driven by the same scripts, clock,
playout and line faults whatever the wire format.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from voicecall_rt.config_carriers import CarrierName
from voicecall_rt.simulator.scenario import CallPlan
from voicecall_rt.simulator.sim_call import SimCall


class FakeCarrier(Protocol):
    """What a world and the tests use of a fake carrier, whichever it plays."""

    @property
    def calls(self) -> Mapping[str, SimCall]:
        """Every call so far, by the carrier's call id."""
        ...

    @property
    def api_base_url(self) -> str: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def route(self, public_origin: str, local_base: str) -> None:
        """Deliver what is sent to `public_origin` to `local_base` (the tunnel)."""
        ...

    async def wait_call(self, timeout: float = 10.0) -> SimCall:  # noqa: ASYNC109 - test API
        """The next call created (outbound via REST or inbound), in creation order."""
        ...

    async def place_inbound_call(
        self, *, from_number: str, to_number: str, plan: CallPlan
    ) -> SimCall:
        """Someone dials one of our numbers; returns at once."""
        ...


@dataclass(frozen=True)
class FakeParams:
    """What every fake is made with: the callee plans, our number, our answer URL."""

    plans: Callable[[str], CallPlan] | CallPlan
    from_number: str
    answer_url: str
    options: Mapping[str, Any]  # the fake's own knobs (e.g. Twilio's `shared_key`)


@dataclass(frozen=True)
class FakeSpec:
    """How to make one fake, and our server's settings (flat, dotted keys) for it once
    started."""

    make: Callable[[FakeParams], FakeCarrier]
    settings: Callable[[FakeCarrier], dict[str, Any]]


def _twilio() -> FakeSpec:
    from voicecall_rt.simulator.twilio.fake import SPEC

    return SPEC


def _telnyx() -> FakeSpec:
    from voicecall_rt.simulator.telnyx.fake import SPEC

    return SPEC


def _plivo() -> FakeSpec:
    from voicecall_rt.simulator.plivo.fake import SPEC

    return SPEC


def _signalwire() -> FakeSpec:
    from voicecall_rt.simulator.signalwire.fake import SPEC

    return SPEC


# Imported when asked for: a world of one carrier loads no other fake.
FAKES: dict[CarrierName, Callable[[], FakeSpec]] = {
    "twilio": _twilio,
    "telnyx": _telnyx,
    "plivo": _plivo,
    "signalwire": _signalwire,
}


def fake_spec(name: CarrierName) -> FakeSpec:
    return FAKES[name]()
