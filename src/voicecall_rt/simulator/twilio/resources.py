"""The fake Twilio's REST resources in Twilio's JSON shapes: a call, the account, its numbers."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any, Final

from voicecall_rt.simulator.sim_call import SimCall, now
from voicecall_rt.simulator.twilio.webhooks import API_VERSION, rfc2822

__all__ = ["account_resource", "call_resource", "number_resource", "numbers_page"]

_CREATED: Final = datetime(2024, 1, 1, tzinfo=UTC)


def call_resource(call: SimCall, account_sid: str) -> dict[str, Any]:
    """The REST call resource (Twilio's JSON shape)."""
    uri = f"/{API_VERSION}/Accounts/{account_sid}/Calls/{call.sid}.json"
    status = "queued" if call.status == "initiated" else call.status
    return {
        "sid": call.sid,
        "date_created": rfc2822(call.date_created),
        "date_updated": rfc2822(now()),
        "parent_call_sid": None,
        "account_sid": account_sid,
        "to": call.to,
        "to_formatted": call.to,
        "from": call.from_,
        "from_formatted": call.from_,
        "phone_number_sid": None,
        "status": status,
        "start_time": rfc2822(call.start_time) if call.start_time else None,
        "end_time": rfc2822(call.end_time) if call.end_time else None,
        "duration": str(call.duration_s) if call.is_final else None,
        "price": None,
        "price_unit": "USD",
        "direction": call.direction,
        "answered_by": call.answered_by,
        "api_version": API_VERSION,
        "forwarded_from": None,
        "group_sid": None,
        "caller_name": None,
        "queue_time": "0",
        "trunk_sid": None,
        "uri": uri,
        "subresource_uris": {
            "notifications": uri.replace(".json", "/Notifications.json"),
            "recordings": uri.replace(".json", "/Recordings.json"),
            "streams": uri.replace(".json", "/Streams.json"),
        },
    }


def account_resource(account_sid: str, friendly_name: str) -> dict[str, Any]:
    created = rfc2822(_CREATED)
    uri = f"/{API_VERSION}/Accounts/{account_sid}.json"
    return {
        "sid": account_sid,
        "friendly_name": friendly_name,
        "status": "active",
        "type": "Full",
        "owner_account_sid": account_sid,
        "date_created": created,
        "date_updated": created,
        "uri": uri,
        "subresource_uris": {
            "calls": uri.replace(".json", "/Calls.json"),
            "incoming_phone_numbers": uri.replace(".json", "/IncomingPhoneNumbers.json"),
        },
    }


def number_resource(
    number: str, *, account_sid: str, voice_url: str | None, status_callback: str | None
) -> dict[str, Any]:
    sid = "PN" + hashlib.sha256(number.encode()).hexdigest()[:32]
    created = rfc2822(_CREATED)
    return {
        "sid": sid,
        "account_sid": account_sid,
        "friendly_name": number,
        "phone_number": number,
        "voice_url": voice_url or "",
        "voice_method": "POST",
        "status_callback": status_callback or "",
        "status_callback_method": "POST",
        "capabilities": {"voice": True, "sms": True, "mms": True, "fax": False},
        "status": "in-use",
        "date_created": created,
        "date_updated": created,
        "api_version": API_VERSION,
        "uri": f"/{API_VERSION}/Accounts/{account_sid}/IncomingPhoneNumbers/{sid}.json",
    }


def numbers_page(
    account_sid: str, resources: list[dict[str, Any]], total: int, page_size: int
) -> dict[str, Any]:
    """The first (and only) page of `IncomingPhoneNumbers.json`: `resources` of `total`."""
    uri = f"/{API_VERSION}/Accounts/{account_sid}/IncomingPhoneNumbers.json"
    return {
        "incoming_phone_numbers": resources,
        "end": max(0, min(total, page_size) - 1),
        "first_page_uri": f"{uri}?PageSize={page_size}&Page=0",
        "next_page_uri": None,
        "previous_page_uri": None,
        "page": 0,
        "page_size": page_size,
        "start": 0,
        "uri": f"{uri}?PageSize={page_size}&Page=0",
    }
