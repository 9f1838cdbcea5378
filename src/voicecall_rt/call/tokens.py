"""Stream tokens: what admits a carrier's media stream to a call.

The answer document hands the carrier `<call id>.<secret>`; the stream presents it in its
start. A token is random (192 bits), kept only in memory, good for one stream and for
`TOKEN_TTL_S` (the carrier opens the stream right after fetching the document), and
compared in constant time (docs/design.md §2.4).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

TOKEN_TTL_S = 30.0


@dataclass
class _Issued:
    secret: str
    expires: float


class StreamTokens:
    """The tokens issued and not yet used, per call. `clock` is the event loop's time."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._issued: dict[str, _Issued] = {}

    def mint(self, call_id: str, *, wait_s: float = 0.0) -> str:
        """A new token for `call_id` (any earlier one no longer admits anything), good for
        `TOKEN_TTL_S` after `wait_s` (the ringing, for a stream requested in the dial)."""
        secret = secrets.token_urlsafe(24)  # 192 bits
        self._issued[call_id] = _Issued(secret, self._clock() + wait_s + TOKEN_TTL_S)
        return f"{call_id}.{secret}"

    def reissue(self, call_id: str) -> str | None:
        """The token issued for `call_id` again, while it is unspent and unexpired: the
        answer to a carrier that asks twice, so whichever reply it acts on admits the stream."""
        issued = self._issued.get(call_id)
        if issued is None or self._clock() > issued.expires:
            return None
        return f"{call_id}.{issued.secret}"

    def claim(self, token: str) -> str | None:
        """The call `token` admits, or None. A matching token is spent even if expired."""
        call_id, _, secret = token.partition(".")
        issued = self._issued.get(call_id)
        if issued is None or not secret:
            return None
        if not hmac.compare_digest(issued.secret.encode(), secret.encode("utf-8", "replace")):
            return None
        del self._issued[call_id]  # single use, whatever happens next
        if self._clock() > issued.expires:
            return None
        return call_id

    def forget(self, call_id: str) -> None:
        self._issued.pop(call_id, None)
