"""How a call ended, in one word a person can count (the dashboard's overview, its CSV).

A call's end reason says who or what ended it (call/bridge.py and the places that settle
calls); its status is the carrier's final word. `ending()` reads both, and never calls a
call `completed` unless the carrier completed it for an ordinary reason: a call the model
side failed, whose media stopped, that the server gave up on or whose end reason this
version does not know is counted as that, or as `other`, never as a plain success.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final

from voicecall_rt.call.records import CallRecord, CallStatus


class Ending(StrEnum):
    """A call's ending, in the order the overview shows them."""

    COMPLETED = "completed"
    TRANSFERRED = "transferred"
    VOICEMAIL = "voicemail"
    NO_ANSWER = "no-answer"
    BUSY = "busy"
    NO_RESPONSE = "no-response"
    LIMIT = "limit"
    INTERRUPTED = "interrupted"
    MODEL_ERROR = "model-error"
    CARRIER_DROP = "carrier-drop"
    FAILED = "failed"
    CANCELED = "canceled"
    REFUSED = "refused"
    IN_PROGRESS = "in-progress"
    OTHER = "other"


LABELS: Final[Mapping[Ending, str]] = {
    Ending.COMPLETED: "Completed",
    Ending.TRANSFERRED: "Transferred to a person",
    Ending.VOICEMAIL: "Voicemail or machine",
    Ending.NO_ANSWER: "No answer",
    Ending.BUSY: "Busy",
    Ending.NO_RESPONSE: "Answered, nobody spoke",
    Ending.LIMIT: "Cut at a limit (duration, spend)",
    Ending.INTERRUPTED: "Server stopped or lost",
    Ending.MODEL_ERROR: "Model error",
    Ending.CARRIER_DROP: "Carrier drop",
    Ending.FAILED: "Failed",
    Ending.CANCELED: "Canceled",
    Ending.REFUSED: "Refused at placement",
    Ending.IN_PROGRESS: "In progress",
    Ending.OTHER: "Other (unknown end reason)",
}

# End reasons that say nothing beyond the status: the model or the far party ended the
# conversation (the stream's stop, or only its close where the carrier sends no stop), we
# hung up on request, or the carrier's final status came first (its own word).
BY_STATUS: Final = frozenset(
    {
        "model-ended",
        "carrier-stop",
        "carrier-closed",
        "hangup-requested",
        "ended",  # roster.py: an inbound call settled without a reason of its own
        *(status.value for status in CallStatus if status.terminal),
    }
)
_STATUS_ENDINGS: Final[Mapping[CallStatus, Ending]] = {
    CallStatus.COMPLETED: Ending.COMPLETED,
    CallStatus.BUSY: Ending.BUSY,
    CallStatus.NO_ANSWER: Ending.NO_ANSWER,
    CallStatus.FAILED: Ending.FAILED,
    CallStatus.CANCELED: Ending.CANCELED,
}

# Every other end reason the code gives, by what it means. tests/unit/test_endings.py
# collects them from the source, so a new one without a line here fails there.
BY_REASON: Final[Mapping[str, Ending]] = {
    "voicemail": Ending.VOICEMAIL,  # calls.voicemail.policy = hangup
    "fax": Ending.VOICEMAIL,
    "transferred": Ending.TRANSFERRED,
    "transfer-failed": Ending.FAILED,
    "no-response": Ending.NO_RESPONSE,  # silence after the nudge
    "max-duration": Ending.LIMIT,
    "spend-limit": Ending.LIMIT,  # limits.perCallSpendUsd
    "shutdown": Ending.INTERRUPTED,
    "server-draining": Ending.INTERRUPTED,
    "server restarted before the call ended": Ending.INTERRUPTED,
    "instance-lost": Ending.INTERRUPTED,
    "copied-while-live": Ending.INTERRUPTED,  # store copy
    "model-fatal": Ending.MODEL_ERROR,
    "model-refused": Ending.MODEL_ERROR,
    "model-failed": Ending.MODEL_ERROR,
    "model-unavailable": Ending.MODEL_ERROR,
    "model-disconnected": Ending.MODEL_ERROR,
    "no-media": Ending.CARRIER_DROP,  # the media watchdog
    "never-connected": Ending.CARRIER_DROP,  # the reaper
    "no final status from the carrier": Ending.CARRIER_DROP,
    # Refused while being placed (PlaceError codes; the call row may exist).
    **dict.fromkeys(
        (
            "carrier",
            "public-url",
            "config",
            "draining",
            "limit",
            "store",
            "duplicate",
            "invalid-number",
            "invalid-task",
            "invalid-outcome-schema",
            "emergency-number",
            "premium-number",
            "blocked-number",
            "outside-calling-hours",
            "daily-spend-limit",
        ),
        Ending.REFUSED,
    ),
}
assert not BY_STATUS & BY_REASON.keys()

# Answering-machine verdicts as carriers word them (stored as said): a machine or a fax.
_MACHINE_PREFIXES: Final = ("machine", "fax", "beep")


def answered_by_machine(answered_by: str | None) -> bool:
    return bool(answered_by) and str(answered_by).lower().startswith(_MACHINE_PREFIXES)


def known(end_reason: str) -> bool:
    return end_reason in BY_STATUS or end_reason in BY_REASON


def ending(record: CallRecord, *, voicemail_left: bool = False) -> Ending:
    """How `record` ended. `voicemail_left`: its journal has a `voicemail` event (the model
    left a message on a machine), which the row alone does not say."""
    if not record.status.terminal:
        return Ending.IN_PROGRESS
    reason = record.end_reason
    if reason is not None and reason not in BY_STATUS:
        return BY_REASON.get(reason, Ending.OTHER)
    by_status = _STATUS_ENDINGS[record.status]
    if by_status is Ending.COMPLETED and (
        voicemail_left or answered_by_machine(record.answered_by)
    ):
        return Ending.VOICEMAIL
    return by_status
