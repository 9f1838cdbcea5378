"""SignalWire's project, as `voicecall-rt status` checks it (the Project ID masked): the
Compatibility API's Accounts/{ProjectID} resource and its IncomingPhoneNumbers."""

from __future__ import annotations

from voicecall_rt.carrier.base import AccountCheck
from voicecall_rt.carrier.signalwire.rest import SignalWireCarrier
from voicecall_rt.carrier.twilio.account import account_checks
from voicecall_rt.config import Settings


async def check_account(settings: Settings) -> list[AccountCheck]:
    """The project is reachable with these credentials and active, and `fromNumber` is one
    of its numbers."""
    section = settings.signalwire
    base_url = section.base_url
    if not section.project_id or section.api_token is None or base_url is None:
        return [
            AccountCheck(
                "signalwire",
                False,
                "signalwire.projectId, signalwire.apiToken and signalwire.spaceUrl are not set",
            )
        ]
    carrier = SignalWireCarrier(section.project_id, section.api_token.get_secret_value(), base_url)
    return await account_checks(carrier, "signalwire", "project", settings.from_number)
