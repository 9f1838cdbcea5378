"""What the fake Twilio's REST API refuses: parameter rules and Twilio's error codes.

Each rule is one Twilio states for `Calls.json` (E.164 numbers, owned caller ID, absolute
http(s) URLs, GET or POST methods, known status events, TimeLimit within the account's
ceiling); the codes are Twilio's own, so the SDK raises what it would raise for real.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import urlsplit

from voicecall_rt.simulator.sim_call import CallConfig

__all__ = [
    "ERR_AUTHENTICATE",
    "ERR_INVALID_PARAMETER",
    "ERR_NOT_FOUND",
    "ERR_NOT_IN_PROGRESS",
    "ERR_UNAVAILABLE",
    "ERR_URL",
    "RestError",
    "first",
    "http_url",
    "parse_create",
    "parse_time_limit",
]

STATUS_EVENTS: Final = frozenset({"initiated", "ringing", "answered", "completed"})
MACHINE_DETECTION: Final = {"enable": "Enable", "detectmessageend": "DetectMessageEnd"}

# Twilio error codes used by the REST fake.
ERR_AUTHENTICATE: Final = 20003
ERR_NOT_FOUND: Final = 20404
ERR_NO_TO: Final = 21201
ERR_URL: Final = 21205
ERR_TO: Final = 21211
ERR_FROM: Final = 21212
ERR_NO_FROM: Final = 21213
ERR_NOT_IN_PROGRESS: Final = 21220
# The fake's catch-all for other bad parameters (not one specific Twilio code).
ERR_INVALID_PARAMETER: Final = 20001
ERR_UNAVAILABLE: Final = 20503

_E164: Final = re.compile(r"^\+[1-9][0-9]{1,14}$")


class RestError(Exception):
    """A refusal, answered with Twilio's error JSON."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def first(params: dict[str, list[str]], name: str) -> str | None:
    """The first non-empty value of a form parameter (Twilio treats empty as absent)."""
    values = params.get(name)
    if not values or values[0] == "":
        return None
    return values[0]


def http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _int_param(
    params: dict[str, list[str]], name: str, default: int | None, low: int, high: int | None
) -> int | None:
    value = first(params, name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise RestError(400, ERR_INVALID_PARAMETER, f"{name} must be an integer") from None
    if number < low or (high is not None and number > high):
        raise RestError(400, ERR_INVALID_PARAMETER, f"{name} is out of range: {number}")
    return number


def parse_create(
    params: dict[str, list[str]], owned_numbers: tuple[str, ...], max_time_limit_s: int
) -> tuple[str, str, CallConfig]:
    """`To`, `From` and the call's settings from a `Calls.json` create, or a RestError."""
    to = first(params, "To")
    if to is None:
        raise RestError(400, ERR_NO_TO, "No 'To' number is specified")
    if not _E164.match(to):
        raise RestError(400, ERR_TO, f"Invalid 'To' Phone Number: {to}")
    from_ = first(params, "From")
    if from_ is None:
        raise RestError(400, ERR_NO_FROM, "No 'From' number is specified")
    owned = owned_numbers
    if not _E164.match(from_) or (owned and from_ not in owned):
        raise RestError(400, ERR_FROM, f"Invalid From Number (caller ID): {from_}")
    url = first(params, "Url")
    twiml = first(params, "Twiml")
    if url is None and twiml is None:
        raise RestError(400, ERR_URL, "Url parameter is required.")
    for name in ("Url", "StatusCallback", "AsyncAmdStatusCallback", "FallbackUrl"):
        value = first(params, name)
        if value is not None and not http_url(value):
            raise RestError(400, ERR_URL, f"{name} is not a valid URL: {value}")
    methods = {}
    for name in ("Method", "StatusCallbackMethod", "AsyncAmdStatusCallbackMethod"):
        value = (first(params, name) or "POST").upper()
        if value not in ("GET", "POST"):
            raise RestError(400, ERR_INVALID_PARAMETER, f"{name} must be GET or POST")
        methods[name] = value
    events = {"completed"}
    for value in params.get("StatusCallbackEvent", []):
        for event in value.split():
            if event not in STATUS_EVENTS:
                raise RestError(400, ERR_INVALID_PARAMETER, f"Invalid StatusCallbackEvent: {event}")
            events.add(event)
    timeout = _int_param(params, "Timeout", 60, 1, None)
    timeout = min(timeout, 600) if timeout is not None else 60
    time_limit = parse_time_limit(params, max_time_limit_s)
    detection = first(params, "MachineDetection")
    if detection is not None:
        canonical = MACHINE_DETECTION.get(detection.lower())
        if canonical is None:
            raise RestError(400, ERR_INVALID_PARAMETER, f"Invalid MachineDetection: {detection}")
        detection = canonical
    async_amd = (first(params, "AsyncAmd") or "false").lower()
    if async_amd not in ("true", "false"):
        raise RestError(400, ERR_INVALID_PARAMETER, f"Invalid AsyncAmd: {async_amd}")
    config = CallConfig(
        url=url,
        method=methods["Method"],
        twiml=twiml if url is None else None,
        status_callback=first(params, "StatusCallback"),
        status_callback_method=methods["StatusCallbackMethod"],
        events=frozenset(events),
        timeout_s=timeout,
        time_limit_s=time_limit,
        machine_detection=detection,
        async_amd=async_amd == "true",
        amd_callback=first(params, "AsyncAmdStatusCallback"),
        amd_method=methods["AsyncAmdStatusCallbackMethod"],
    )
    return to, from_, config


def parse_time_limit(params: dict[str, list[str]], max_time_limit_s: int) -> int | None:
    value = first(params, "TimeLimit")
    limit = _int_param(params, "TimeLimit", None, 1, None)
    most = max_time_limit_s
    if limit is not None and limit > most:
        raise RestError(
            400,
            ERR_INVALID_PARAMETER,
            f"TimeLimit must be between 1 and {most} seconds: {value}",
        )
    return limit
