"""The `rate_limits.updated` event the fake Realtime server sends as each response starts.

The real event is "emitted at the beginning of a Response": when a response is created,
tokens are reserved for its output and the figures reflect that reservation (openai
`types/realtime/rate_limits_updated_event.py`). A logged beta session showed requests
5000/4999 and tokens 20000/15482 (~4096 reserved) right after the response began
(openai/openai-realtime-console#42); a 2026 report says GA sessions send only the `tokens`
entry (openai/openai-agents-js#1022), so the names are a knob.

The fake keeps no clock: `requests` counts every response the server has started, `tokens`
shows this response's reservation (its input plus the output it may produce), and
`reset_seconds` is the time a per-minute bucket needs to refill what is used.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = ["DEFAULT_RATE_LIMITS", "RateLimitBook"]

# Per-minute limits of a modest paid tier (plausible, not any account's real numbers).
DEFAULT_RATE_LIMITS: Final[Mapping[str, int]] = {"requests": 5000, "tokens": 40000}
_MAX_OUTPUT_RESERVED: Final = 4096  # what an `inf` response reserves (the model's cap)


class RateLimitBook:
    """Server-wide bookkeeping behind `rate_limits.updated` (shared by every session, like
    an organisation's limits)."""

    def __init__(self, limits: Mapping[str, int]) -> None:
        self.limits = dict(limits)
        self.requests = 0

    def on_response(self, input_tokens: int, max_output_tokens: object) -> list[dict[str, Any]]:
        """The `rate_limits` list for a response that just started ([] when disabled)."""
        self.requests += 1
        reserved_out = (
            min(max_output_tokens, _MAX_OUTPUT_RESERVED)
            if isinstance(max_output_tokens, int)
            else _MAX_OUTPUT_RESERVED
        )
        used = {"requests": self.requests, "tokens": input_tokens + reserved_out}
        out: list[dict[str, Any]] = []
        for name, limit in self.limits.items():
            spent = min(limit, used.get(name, 0))
            out.append(
                {
                    "name": name,
                    "limit": limit,
                    "remaining": limit - spent,
                    "reset_seconds": round(spent * 60 / limit, 3) if limit else 0.0,
                }
            )
        return out
