"""How a call ended (call/endings.py): every end reason the code gives is classified
(collected from the source, so a new one fails here until it has its line), and a call the
carrier dropped, the model failed or the server gave up on is never `completed`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from voicecall_rt.call.drain import DRAIN_REASON
from voicecall_rt.call.endings import BY_REASON, BY_STATUS, Ending, ending, known
from voicecall_rt.call.records import CallRecord, CallStatus
from voicecall_rt.call.spend_limit import SPEND_REASON
from voicecall_rt.cluster.base import INSTANCE_LOST
from voicecall_rt.store.copy import COPIED_WHILE_LIVE

SRC = Path(__file__).resolve().parents[2] / "src" / "voicecall_rt"
# Where the code names an end reason as a literal: ending the bridge, settling a call,
# the conversation's own reason, the model keeper's and the relay's returns, a placement
# refused once its row is stored (`_refuse`), a constant named for a reason.
_PATTERNS = (
    r'\.end\(\s*"([^"]+)"',
    r'settle\([^()]*?"([^"]+)"\s*\)',
    r'settle_stale\(\s*reason="([^"]+)"',
    r'\.fail\(\s*"([^"]+)"',
    r'end_reason = "([^"]+)"',
    r'_refuse\(\s*active,\s*"([^"]+)"',
    r'sql\.SETTLE_OWN,\s*self\.instance_id,\s*"([^"]+)"',
    r'^[A-Z_]*REASON[A-Z_]*(?:: Final)?\s*=\s*"([^"]+)"',
)
_RETURNED_BY = ("call/relay.py", "call/renewal.py")  # their returns are end reasons


def emitted_reasons() -> set[str]:
    found: set[str] = {DRAIN_REASON, SPEND_REASON, INSTANCE_LOST, COPIED_WHILE_LIVE}
    for path in SRC.rglob("*.py"):
        text = path.read_text()
        for pattern in _PATTERNS:
            found.update(re.findall(pattern, text, re.MULTILINE))
        if path.relative_to(SRC).as_posix() in _RETURNED_BY:
            for pair in re.findall(r'return "([a-z-]+)"(?: if \w+ else "([a-z-]+)")?', text):
                found.update(r for r in pair if r)
    return found


def test_every_end_reason_the_code_gives_is_classified() -> None:
    reasons = emitted_reasons()
    # The collection itself works: reasons from each kind of place are in it.
    assert {
        "model-ended",
        "carrier-stop",
        "carrier-closed",
        "hangup-requested",
        "no-response",
        "max-duration",
        "no-media",
        "never-connected",
        "voicemail",
        "fax",
        "shutdown",
        "model-fatal",
        "model-failed",
        "model-refused",
        "model-unavailable",
        "model-disconnected",
        "carrier",
        "public-url",
        "no final status from the carrier",
        "server restarted before the call ended",
        "spend-limit",
        "server-draining",
        "instance-lost",
        "copied-while-live",
    } <= reasons
    unknown = sorted(r for r in reasons if not known(r))
    assert unknown == [], f"end reasons with no ending in call/endings.py: {unknown}"


def call(status: CallStatus, reason: str | None, **kw: object) -> CallRecord:
    answered = status is CallStatus.COMPLETED
    fields: dict[str, object] = {
        "id": "call_1",
        "direction": "outbound",
        "from_number": "+14155550100",
        "to_number": "+14155550123",
        "status": status,
        "end_reason": reason,
        "created_at": 1_000,
        "answered_at": 2_000 if answered else None,
        "ended_at": 9_000,
    }
    return CallRecord.model_validate({**fields, **kw})


@pytest.mark.parametrize(
    ("status", "reason", "expected"),
    [
        (CallStatus.COMPLETED, "model-ended", Ending.COMPLETED),
        (CallStatus.COMPLETED, "carrier-stop", Ending.COMPLETED),
        (CallStatus.COMPLETED, "carrier-closed", Ending.COMPLETED),
        (CallStatus.COMPLETED, "hangup-requested", Ending.COMPLETED),
        (CallStatus.COMPLETED, "completed", Ending.COMPLETED),
        (CallStatus.CANCELED, "hangup-requested", Ending.CANCELED),  # before the answer
        (CallStatus.NO_ANSWER, "no-answer", Ending.NO_ANSWER),
        (CallStatus.BUSY, "busy", Ending.BUSY),
        (CallStatus.FAILED, "failed", Ending.FAILED),
        (CallStatus.CANCELED, "canceled", Ending.CANCELED),
        (CallStatus.COMPLETED, "voicemail", Ending.VOICEMAIL),
        (CallStatus.COMPLETED, "fax", Ending.VOICEMAIL),
        (CallStatus.COMPLETED, "transferred", Ending.TRANSFERRED),
        (CallStatus.COMPLETED, "transfer-failed", Ending.FAILED),
        (CallStatus.COMPLETED, "no-response", Ending.NO_RESPONSE),
        (CallStatus.COMPLETED, "max-duration", Ending.LIMIT),
        (CallStatus.COMPLETED, "spend-limit", Ending.LIMIT),
        (CallStatus.COMPLETED, "server-draining", Ending.INTERRUPTED),
        (CallStatus.COMPLETED, "instance-lost", Ending.INTERRUPTED),
        (CallStatus.FAILED, "server restarted before the call ended", Ending.INTERRUPTED),
        (CallStatus.COMPLETED, "model-fatal", Ending.MODEL_ERROR),
        (CallStatus.COMPLETED, "model-failed", Ending.MODEL_ERROR),
        (CallStatus.NO_ANSWER, "model-unavailable", Ending.MODEL_ERROR),
        (CallStatus.COMPLETED, "model-disconnected", Ending.MODEL_ERROR),
        (CallStatus.COMPLETED, "no-media", Ending.CARRIER_DROP),
        (CallStatus.FAILED, "never-connected", Ending.CARRIER_DROP),
        (CallStatus.COMPLETED, "no final status from the carrier", Ending.CARRIER_DROP),
        (CallStatus.FAILED, "carrier", Ending.REFUSED),
        (CallStatus.FAILED, "public-url", Ending.REFUSED),
        # A failed status is never read as a success, whatever the reason says.
        (CallStatus.FAILED, "model-ended", Ending.FAILED),
        (CallStatus.FAILED, "carrier-stop", Ending.FAILED),
        (CallStatus.COMPLETED, None, Ending.COMPLETED),
        # A reason this version does not know: never counted as completed.
        (CallStatus.COMPLETED, "something-new", Ending.OTHER),
    ],
)
def test_ending(status: CallStatus, reason: str | None, expected: Ending) -> None:
    assert ending(call(status, reason)) is expected


@pytest.mark.parametrize("status", [s for s in CallStatus if not s.terminal])
def test_a_live_call_is_in_progress(status: CallStatus) -> None:
    assert ending(call(status, None)) is Ending.IN_PROGRESS


@pytest.mark.parametrize(
    "answered_by", ["machine_end_beep", "machine_start", "machine", "beep_detected", "fax"]
)
def test_a_machine_that_answered_is_voicemail(answered_by: str) -> None:
    record = call(CallStatus.COMPLETED, "model-ended", answered_by=answered_by)
    assert ending(record) is Ending.VOICEMAIL
    # ... but an error stays an error.
    assert ending(call(CallStatus.COMPLETED, "no-media", answered_by=answered_by)) is (
        Ending.CARRIER_DROP
    )


def test_a_voicemail_left_is_voicemail_even_when_the_verdict_says_human() -> None:
    record = call(CallStatus.COMPLETED, "model-ended", answered_by="human")
    assert ending(record) is Ending.COMPLETED
    assert ending(record, voicemail_left=True) is Ending.VOICEMAIL


def test_no_drop_or_failure_is_completed() -> None:
    for reason, category in BY_REASON.items():
        for status in CallStatus:
            if status.terminal:
                assert ending(call(status, reason)) is category
                assert category is not Ending.COMPLETED
    for reason in BY_STATUS:
        for status in (CallStatus.FAILED, CallStatus.BUSY, CallStatus.NO_ANSWER):
            assert ending(call(status, reason)) is not Ending.COMPLETED
