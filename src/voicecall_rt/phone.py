"""Phone numbers: E.164 normalisation, the one place that decides what a number is."""

from __future__ import annotations

import re

_E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
# Separators people paste in numbers; anything else is an error, not something to strip.
_SEPARATORS = re.compile(r"[\s\-().]")


def normalize_e164(raw: str) -> str:
    """Return `raw` as strict E.164 (`+14155551234`) or raise ValueError saying why."""
    if not isinstance(raw, str):
        raise ValueError("a phone number must be a string in E.164 form, like +14155551234")
    candidate = _SEPARATORS.sub("", raw.strip())
    if candidate.startswith("00"):
        candidate = "+" + candidate[2:]
    if not _E164.match(candidate):
        raise ValueError(
            f"{raw!r} is not an E.164 phone number (a '+', the country code, then the number:"
            " up to 15 digits, like +14155551234)"
        )
    return candidate


def mask_number(number: str) -> str:
    """Keep the country code area and the last 2 digits, enough to recognise a call in logs."""
    if len(number) <= 6:
        return "*" * len(number)
    return number[:3] + "*" * (len(number) - 5) + number[-2:]
