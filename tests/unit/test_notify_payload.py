"""What the notify webhook sends: the message text, the two bodies, the signature, backoff."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest
from pydantic import BaseModel

from voicecall_rt import notify, notify_payload
from voicecall_rt.call.records import CallRecord, CallStatus, Outcome, TranscriptLine


def record(**fields: Any) -> CallRecord:
    base: dict[str, Any] = {
        "id": "call_0123456789abcdef",
        "direction": "outbound",
        "from_number": "+14155550100",
        "to_number": "+14155550123",
        "task": "Ask whether the shop is open on Sunday.",
        "status": CallStatus.COMPLETED,
        "created_at": 1_000_000,
        "answered_at": 1_002_000,
        "ended_at": 1_077_000,
        "end_reason": "model-ended",
    }
    base.update(fields)
    return CallRecord.model_validate(base)


def lines(count: int, text: str = "line") -> list[TranscriptLine]:
    return [
        TranscriptLine(
            call_id="call_0123456789abcdef",
            seq=i + 1,
            t_ms=i * 1000,
            role="caller" if i % 2 == 0 else "assistant",
            text=f"{text} {i + 1}",
        )
        for i in range(count)
    ]


def test_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    body = b'{"event":"call.settled"}'
    expected = hmac.new(b"secret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert notify_payload.sign("secret", "1700000000", body) == "sha256=" + expected
    assert notify_payload.sign("secret", "1700000001", body) != "sha256=" + expected


def test_message_names_the_call_outcome_and_next_step() -> None:
    rec = record(
        outcome=Outcome(success=True, summary="Open 10 to 4 on Sunday.", details={"hours": "10-4"})
    )
    message = notify_payload.summary_message(rec, lines(2))
    first, *rest = message.split("\n")
    assert first == (
        "Phone call call_0123456789abcdef to +14155550123 ended: completed (model-ended), 1m 15s."
    )
    assert "Task: Ask whether the shop is open on Sunday." in rest
    assert "Outcome: succeeded. Open 10 to 4 on Sunday." in rest
    assert "Details: hours: 10-4" in rest
    assert "  Them: line 1" in rest and "  AI: line 2" in rest
    assert rest[-1] == "Full record: voicecall-rt calls show call_0123456789abcdef --json"
    assert not any(line.startswith("Cost:") for line in rest)


def test_message_for_an_unanswered_inbound_call() -> None:
    rec = record(
        direction="inbound",
        from_number="+14155550999",
        task="",
        status=CallStatus.FAILED,
        answered_at=None,
        end_reason="carrier",
        error="carrier refused the call",
    )
    message = notify_payload.summary_message(rec, [])
    assert message.startswith("Phone call call_0123456789abcdef from +14155550999 ended: failed")
    assert "never answered" in message
    assert "Outcome: none reported." in message
    assert "Error: carrier refused the call" in message
    assert "Task:" not in message and "Transcript" not in message


def test_long_transcript_keeps_its_start_and_end() -> None:
    many = lines(30)
    kept, omitted = notify_payload.short_transcript(many)
    assert omitted == 30 - notify_payload.TRANSCRIPT_MAX_LINES
    assert [line.seq for line in kept] == [1, 2, 3, 4, *range(19, 31)]
    message = notify_payload.summary_message(record(), many)
    assert f"  … {omitted} line(s) left out …" in message
    assert message.index("line 4") < message.index("left out") < message.index("line 19")


def test_long_lines_are_clipped() -> None:
    (line,) = lines(1, "word " * 200)
    (kept,), _ = notify_payload.short_transcript([line])
    assert len(kept.text) == notify_payload.LINE_MAX_CHARS and kept.text.endswith("…")


class FakeCost(BaseModel):
    total_usd: float | None
    carrier_usd: float


def test_cost_from_the_servers_pricing_when_known() -> None:
    rec = record()
    cost = notify_payload.call_cost(rec, lambda r: FakeCost(total_usd=0.1234, carrier_usd=0.028))
    assert cost == {"total_usd": 0.1234, "carrier_usd": 0.028}
    assert "Cost: $0.12" in notify_payload.summary_message(rec, [], cost)
    body = notify_payload.build_generic(rec, [], "d1", cost)
    assert body["call"]["cost"] == cost
    # An unpriced model: the cost is passed on, but no total is made up.
    unpriced = {"total_usd": None, "carrier_usd": 0.028}
    assert "Cost:" not in notify_payload.summary_message(rec, [], unpriced)


def test_cost_unknown_is_left_out() -> None:
    def broken(_: CallRecord) -> Any:
        raise RuntimeError("no price table")

    rec = record()
    assert notify_payload.call_cost(rec) is None
    assert notify_payload.call_cost(rec, broken) is None
    assert "cost" not in notify_payload.build_generic(rec, [], "d1", None)["call"]


def test_openclaw_body_carries_the_session_key_only_when_given() -> None:
    assert set(notify_payload.build_openclaw(record(), [])) == {"message", "name"}
    body = notify_payload.build_openclaw(record(notify_session_key="hook:voice:1"), [])
    assert body["sessionKey"] == "hook:voice:1"


@pytest.mark.parametrize(
    ("attempt", "retry_after", "expected"),
    [
        (1, None, 1.0),
        (2, None, 2.0),
        (4, None, 8.0),
        (9, None, notify.BACKOFF_MAX_S),
        (1, "30", 30.0),
        (3, "1", 4.0),
        (1, "86400", notify.BACKOFF_MAX_S),
        (1, "Wed, 21 Oct 2026 07:28:00 GMT", 1.0),
        (1, "-5", 1.0),
    ],
)
def test_backoff(
    attempt: int, retry_after: str | None, expected: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notify, "BACKOFF_BASE_S", 1.0)
    assert notify._backoff(attempt, retry_after) == expected


QUOTA = "insufficient_quota: You exceeded your current quota, please check your plan."


def test_a_fatal_model_error_is_in_both_bodies_with_what_it_means() -> None:
    rec = record(status=CallStatus.COMPLETED, end_reason="model-fatal", error=QUOTA)
    message = notify_payload.summary_message(rec, lines(2))
    assert message.split("\n")[0].endswith("completed (model-fatal), 1m 15s.")
    [line] = [x for x in message.split("\n") if x.startswith("Error: ")]
    assert line.startswith("Error: " + QUOTA)
    assert "OpenAI refused the account" in line and "until that is fixed" in line
    body = notify_payload.build_generic(rec, lines(2), "d1")
    assert body["call"]["error"] == QUOTA and body["call"]["end_reason"] == "model-fatal"
    assert "Error: " + QUOTA in body["summary"]
    assert "Error: " + QUOTA in notify_payload.build_openclaw(rec, [])["message"]


@pytest.mark.parametrize(
    ("reason", "meaning"),
    [
        ("model-refused", "OpenAI refused the session"),
        ("model-failed", "failed again after one retry"),
    ],
)
def test_other_model_end_reasons_are_explained(reason: str, meaning: str) -> None:
    rec = record(status=CallStatus.COMPLETED, end_reason=reason, error="server_error: oops")
    [line] = [
        x for x in notify_payload.summary_message(rec, []).split("\n") if x.startswith("Error:")
    ]
    assert line.startswith("Error: server_error: oops (") and meaning in line
