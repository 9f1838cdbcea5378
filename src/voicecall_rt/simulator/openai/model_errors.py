"""Ready-made bad days at OpenAI for the fake Realtime server: failed responses, refused
connections and the session's end of life.

A failed response is scripted with a `Fail` action (scenario.py); these are the ones real
sessions report. Where a shape was seen in the wild the source is named; the rest follow the
error bodies OpenAI's other endpoints give for the same account states and are marked
"plausible".
"""

from __future__ import annotations

from typing import Final

from voicecall_rt.simulator.scenario import Fail

__all__ = [
    "ACCOUNT_DEACTIVATED",
    "ACCOUNT_FAILURES",
    "BILLING_HARD_LIMIT_REACHED",
    "INFERENCE_RATE_LIMITED",
    "INSUFFICIENT_QUOTA",
    "INVALID_API_KEY",
    "OVERLOADED",
    "RATE_LIMIT_EXCEEDED",
    "SERVER_ERROR",
    "connect_status",
    "session_expired_message",
]

# openai/openai-realtime-api-beta#116: `status_details.error` of a failed response.
SERVER_ERROR: Final = Fail()

# livekit/agents realtime_model.py (`_handle_response_done_but_not_complete`): a rate-limited
# response fails "with type invalid_request_error due to code inference_rate_limit_exceeded".
# The message is plausible.
INFERENCE_RATE_LIMITED: Final = Fail(
    type="invalid_request_error",
    code="inference_rate_limit_exceeded",
    message="Rate limit reached for requests. Please try again shortly.",
)

# The account-level errors below stop LiveKit's reconnect loop (its `_FATAL_ERROR_CODES`).
# Their messages are the ones OpenAI's REST endpoints give; in a Realtime response they
# are plausible.
RATE_LIMIT_EXCEEDED: Final = Fail(
    type="tokens",
    code="rate_limit_exceeded",
    message=(
        "Rate limit reached for gpt-realtime in organization org-sim on tokens per min "
        "(TPM): Limit 40000, Used 39000, Requested 4096. Please try again in 4.6s. Visit "
        "https://platform.openai.com/account/rate-limits to learn more."
    ),
)
INSUFFICIENT_QUOTA: Final = Fail(
    type="insufficient_quota",
    code="insufficient_quota",
    message=(
        "You exceeded your current quota, please check your plan and billing details. For "
        "more information on this error, read the docs: "
        "https://platform.openai.com/docs/guides/error-codes/api-errors."
    ),
)
INVALID_API_KEY: Final = Fail(
    type="invalid_request_error",
    code="invalid_api_key",
    message=(
        "Incorrect API key provided: sk-sim***********line. You can find your API key at "
        "https://platform.openai.com/account/api-keys."
    ),
)
ACCOUNT_DEACTIVATED: Final = Fail(
    type="invalid_request_error",
    code="account_deactivated",
    message=(
        "This key is associated with a deactivated account. If you feel this is an error, "
        "contact us through our help center at help.openai.com."
    ),
)
BILLING_HARD_LIMIT_REACHED: Final = Fail(
    type="invalid_request_error",
    code="billing_hard_limit_reached",
    message="Billing hard limit has been reached",
)

# The four after which retrying cannot help (issue 9: end the call at once).
ACCOUNT_FAILURES: Final = (
    INSUFFICIENT_QUOTA,
    INVALID_API_KEY,
    ACCOUNT_DEACTIVATED,
    BILLING_HARD_LIMIT_REACHED,
)

# What a refused WebSocket upgrade says by default (`FakeRealtimeServer.refuse_next`).
OVERLOADED: Final = Fail(
    type="server_error", code=None, message="The server is overloaded or not ready yet."
)

_HTTP_STATUS: Final = {
    "insufficient_quota": 429,
    "rate_limit_exceeded": 429,
    "inference_rate_limit_exceeded": 429,
    "invalid_api_key": 401,
    "account_deactivated": 401,
    "billing_hard_limit_reached": 400,
}


def connect_status(failure: Fail) -> int:
    """The HTTP status a refused upgrade carries for `failure`, as the REST API would give."""
    if failure.code in _HTTP_STATUS:
        return _HTTP_STATUS[failure.code]
    return 503 if failure.type == "server_error" else 400


def session_expired_message(lifetime_s: float) -> str:
    """The `session_expired` error text, in the minutes the session was allowed.

    Seen as "Your session hit the maximum duration of 60 minutes." (close 1001,
    pollen-robotics/reachy_mini_conversation_app#134) and "… of 15 minutes." (twilio-samples
    speech-assistant-openai-realtime-api-python#10). A test lifetime of seconds keeps the
    wording and shows a fraction.
    """
    minutes = lifetime_s / 60
    shown = f"{minutes:.0f}" if minutes == round(minutes) else f"{minutes:.4g}"
    return f"Your session hit the maximum duration of {shown} minutes."
