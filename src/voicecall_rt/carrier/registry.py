"""The carriers we can serve, each built from the settings as its three parts (REST client,
webhooks, stream codec): the one place outside `carrier/<name>/` that names a carrier.

A second carrier is one more builder and one more entry in `CARRIERS`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from voicecall_rt.carrier.base import AccountCheck, CarrierApi, CarrierWebhooks, StreamCodec
from voicecall_rt.carrier.twilio import TwilioCarrier, TwilioStreamCodec, TwilioWebhooks
from voicecall_rt.carrier.twilio import account as twilio_account
from voicecall_rt.config import Settings


class CarrierClient(CarrierApi, Protocol):
    """The REST side as the server owns it: closed when the server stops."""

    async def close(self) -> None: ...


@dataclass(frozen=True)
class Carrier:
    """One carrier, ready to serve: `api` is None while its credentials are not configured
    (webhooks are then refused, as nothing can sign them)."""

    api: CarrierClient | None
    webhooks: CarrierWebhooks
    codec: StreamCodec

    async def close(self) -> None:
        if self.api is not None:
            await self.api.close()


def shared_key_secrets(settings: Settings) -> list[str]:
    """The SharedKey secrets Twilio webhooks may be signed with (`twilio.webhookSharedKeys`)."""
    return [key.get_secret_value() for key in settings.twilio.webhook_shared_keys]


def twilio(settings: Settings) -> Carrier:
    """Twilio, from `settings.twilio`. Call inside a running event loop (its REST client)."""
    twilio_settings = settings.twilio
    sid, token = twilio_settings.account_sid, twilio_settings.auth_token
    secret = token.get_secret_value() if token is not None else ""
    api = None
    if sid and token is not None:
        api = TwilioCarrier(sid, secret, twilio_settings.api_base_url)
    return Carrier(
        api=api,
        webhooks=TwilioWebhooks(secret, shared_key_secrets(settings)),
        codec=TwilioStreamCodec(),
    )


CARRIERS: dict[str, Callable[[Settings], Carrier]] = {"twilio": twilio}
DEFAULT_CARRIER = "twilio"


def build_carrier(settings: Settings, name: str = DEFAULT_CARRIER) -> Carrier:
    """The named carrier's parts, from the settings."""
    return CARRIERS[name](settings)


# What `voicecall-rt status` checks of each carrier's account.
ACCOUNT_CHECKS: dict[str, Callable[[Settings], Awaitable[list[AccountCheck]]]] = {
    "twilio": twilio_account.check_account
}


async def check_carrier(settings: Settings, name: str = DEFAULT_CARRIER) -> list[AccountCheck]:
    """The named carrier's account checks."""
    return await ACCOUNT_CHECKS[name](settings)
