"""Telnyx's account, as `voicecall-rt status` checks it."""

from __future__ import annotations

from voicecall_rt.carrier.base import AccountCheck, CarrierError
from voicecall_rt.carrier.telnyx.rest import TelnyxCarrier
from voicecall_rt.config import Settings


async def check_account(settings: Settings) -> list[AccountCheck]:
    """The API key works (the account's balance can be read), and `fromNumber` is one of
    the account's numbers."""
    section = settings.telnyx
    key = section.api_key.get_secret_value() if section.api_key is not None else ""
    if not key:
        return [AccountCheck("telnyx", False, "telnyx.apiKey is not set")]
    carrier = TelnyxCarrier(key, section.connection_id or "", section.api_base_url)
    try:
        try:
            balance = await carrier.fetch_balance()
        except CarrierError as exc:
            return [AccountCheck("telnyx", False, f"API key: {exc}")]
        results = [AccountCheck("telnyx", True, f"API key works (balance {balance})")]
        if not section.connection_id:
            results.append(AccountCheck("telnyx", False, "telnyx.connectionId is not set"))
        if not settings.from_number:
            results.append(AccountCheck("fromNumber", False, "fromNumber is not set"))
            return results
        try:
            owned = await carrier.owns_number(settings.from_number)
        except CarrierError as exc:
            results.append(AccountCheck("fromNumber", False, str(exc)))
            return results
        results.append(
            AccountCheck(
                "fromNumber",
                owned,
                f"{settings.from_number} "
                + ("belongs to the account" if owned else "is not a number of this account"),
            )
        )
        return results
    finally:
        await carrier.close()
