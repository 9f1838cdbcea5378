"""A carrier ready to serve: its three parts together (`carrier/<name>/build.py` makes one
from the settings; `carrier/registry.py` lists the builders by name)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from voicecall_rt.carrier.base import CarrierApi, CarrierWebhooks, StreamCodec


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
