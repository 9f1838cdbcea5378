"""Plivo's account, as `voicecall-rt status` checks it (the Auth ID masked)."""

from __future__ import annotations

from voicecall_rt.carrier.base import AccountCheck, CarrierError
from voicecall_rt.carrier.plivo.rest import PlivoCarrier, mask_id
from voicecall_rt.config import Settings


async def check_account(settings: Settings) -> list[AccountCheck]:
    """The account answers to these credentials (and is not disabled), and `fromNumber` is
    one of its numbers (Plivo's Number resource)."""
    auth_id, token = settings.plivo.auth_id, settings.plivo.auth_token
    if not auth_id or token is None or not token.get_secret_value():
        return [AccountCheck("plivo", False, "plivo.authId and plivo.authToken are not set")]
    carrier = PlivoCarrier(auth_id, token.get_secret_value(), settings.plivo.api_base_url)
    try:
        try:
            account = await carrier.fetch_account()
        except CarrierError as exc:
            return [AccountCheck("plivo", False, f"account {mask_id(auth_id)}: {exc}")]
        # Plivo's account resource has no status; a sub-account says `enabled`.
        enabled = account.get("enabled", True) is not False
        results = [
            AccountCheck(
                "plivo",
                enabled,
                f"account {mask_id(auth_id)} is " + ("reachable" if enabled else "disabled"),
            )
        ]
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
