"""The carriers we can serve, by the name `carrier` takes in the config: the one place
outside `carrier/<name>/` that names a carrier.

A new carrier is one more row in each table (its builder and its account check). Each
carrier's package is imported only when it is the one configured.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from voicecall_rt.carrier.base import AccountCheck
from voicecall_rt.carrier.parts import Carrier
from voicecall_rt.config import Settings
from voicecall_rt.config_carriers import CarrierName

Builder = Callable[[Settings], Carrier]
AccountCheckFn = Callable[[Settings], Awaitable[list[AccountCheck]]]


def _twilio() -> tuple[Builder, AccountCheckFn]:
    from voicecall_rt.carrier.twilio import account, build

    return build.build, account.check_account


def _telnyx() -> tuple[Builder, AccountCheckFn]:
    from voicecall_rt.carrier.telnyx import account, build

    return build.build, account.check_account


def _plivo() -> tuple[Builder, AccountCheckFn]:
    from voicecall_rt.carrier.plivo import account, build

    return build.build, account.check_account


def _signalwire() -> tuple[Builder, AccountCheckFn]:
    from voicecall_rt.carrier.signalwire import account, build

    return build.build, account.check_account


CARRIERS: dict[CarrierName, Callable[[], tuple[Builder, AccountCheckFn]]] = {
    "twilio": _twilio,
    "telnyx": _telnyx,
    "plivo": _plivo,
    "signalwire": _signalwire,
}


def build_carrier(settings: Settings) -> Carrier:
    """The configured carrier's parts (call inside a running event loop)."""
    build, _ = CARRIERS[settings.carrier]()
    return build(settings)


async def check_carrier(settings: Settings) -> list[AccountCheck]:
    """What `voicecall-rt status` checks of the configured carrier's account."""
    _, check = CARRIERS[settings.carrier]()
    return await check(settings)
