"""Twilio's account, as `voicecall-rt status` checks it (the Account SID masked)."""

from __future__ import annotations

from voicecall_rt.carrier.base import AccountCheck, CarrierError
from voicecall_rt.carrier.twilio.rest import TwilioCarrier, mask_sid
from voicecall_rt.config import Settings


async def check_account(settings: Settings) -> list[AccountCheck]:
    """The account is reachable with these credentials and active, and `fromNumber` is one
    of its numbers."""
    sid, token = settings.twilio.account_sid, settings.twilio.auth_token
    if not sid or token is None:
        return [AccountCheck("twilio", False, "twilio.accountSid and twilio.authToken are not set")]
    carrier = TwilioCarrier(sid, token.get_secret_value(), settings.twilio.api_base_url)
    return await account_checks(carrier, "twilio", "account", settings.from_number)


async def account_checks(
    carrier: TwilioCarrier, name: str, noun: str, from_number: str | None
) -> list[AccountCheck]:
    """Through the Account resource and IncomingPhoneNumbers (Twilio's, or a compatible
    carrier's: `name` and `noun` say whose): the credentials work, the account is active,
    `from_number` is one of its numbers. Closes `carrier`."""
    sid = carrier.account_sid
    try:
        try:
            state = await carrier.fetch_account_status()
        except CarrierError as exc:
            return [AccountCheck(name, False, f"{noun} {mask_sid(sid)}: {exc}")]
        results = [AccountCheck(name, state == "active", f"{noun} {mask_sid(sid)} is {state}")]
        if not from_number:
            results.append(AccountCheck("fromNumber", False, "fromNumber is not set"))
            return results
        try:
            owned = await carrier.owns_number(from_number)
        except CarrierError as exc:
            results.append(AccountCheck("fromNumber", False, str(exc)))
            return results
        results.append(
            AccountCheck(
                "fromNumber",
                owned,
                f"{from_number} "
                + ("belongs to the account" if owned else "is not a number of this account"),
            )
        )
        return results
    finally:
        await carrier.close()
