"""transfer_call's declaration and arguments: the target is a configured label (an enum the
model sees, matched exactly once trimmed and case-folded), never a number; the caller ID
the carrier is asked to show (docs/business.md §Transfer to a person)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console

from voicecall_rt.call.records import CallRecord, Outcome
from voicecall_rt.call.tools import (
    FREE_FORM_TOOLS,
    ToolError,
    call_tools,
    transfer_target_from,
)
from voicecall_rt.call.transfer import (
    caller_id,
    handed_over,
    never_answered,
    plan_transfer,
    transfer_document,
)
from voicecall_rt.carrier.base import Dial, HangUp
from voicecall_rt.config import Settings
from voicecall_rt.config_business import TransferTarget
from voicecall_rt.prompts import build_instructions
from voicecall_rt.render import print_entry, print_outcome, show_call
from voicecall_rt.store import Store

OURS = "+14155550100"
CALLER = "+14155550177"
TARGETS = [
    TransferTarget(label="front desk", number="+14155550142"),
    TransferTarget(label="Billing", number="+14155550143"),
]


@pytest.mark.parametrize("said", ["front desk", "  Front Desk ", "FRONT DESK", "billing"])
def test_a_configured_label_is_found_whatever_its_case(said: str) -> None:
    target = transfer_target_from({"target": said}, TARGETS)
    assert target.label.lower() == said.strip().lower()


@pytest.mark.parametrize(
    "arguments",
    [
        {"target": "+14155550142"},  # a number, even a configured one, is not a label
        {"target": "14155550142"},
        {"target": "front"},
        {"target": "front desk please"},
        {"target": ""},
        {"target": 7},
        {},
    ],
)
def test_anything_but_a_label_is_an_error_naming_the_labels(arguments: dict[str, Any]) -> None:
    with pytest.raises(ToolError) as refused:
        transfer_target_from(arguments, TARGETS)
    assert "'front desk'" in str(refused.value) and "'Billing'" in str(refused.value)


def test_no_targets_configured_is_an_error() -> None:
    with pytest.raises(ToolError, match="no transfer target"):
        transfer_target_from({"target": "front desk"}, [])


def test_the_tool_is_declared_only_with_targets_and_holds_no_number() -> None:
    assert call_tools(None) is FREE_FORM_TOOLS
    assert "transfer_call" not in [t["name"] for t in FREE_FORM_TOOLS.declarations]
    tools = call_tools(None, [t.label for t in TARGETS])
    [tool] = [t for t in tools.declarations if t["name"] == "transfer_call"]
    parameters = tool["parameters"]
    enum = {"type": "string", "enum": ["front desk", "Billing"]}
    assert parameters["properties"]["target"] == enum
    assert parameters["required"] == ["target", "reason"]
    assert parameters["additionalProperties"] is False
    assert "+1415" not in str(tools.declarations)
    # The rest is the call's own: an outcome schema's shape is kept.
    assert tools.details is FREE_FORM_TOOLS.details


def test_the_instructions_say_to_announce_the_transfer_first() -> None:
    plain = build_instructions(direction="inbound", task="Take messages.")
    assert "transfer_call" not in plain
    text = build_instructions(
        direction="inbound", task="Take messages.", transfer_labels=["front desk"]
    )
    rule = next(line for line in text.splitlines() if "transfer_call" in line)
    assert '"front desk"' in rule and "transferring" in rule


def _record(direction: str, from_number: str, to_number: str) -> CallRecord:
    return CallRecord(
        id="call_0123456789abcdef",
        direction=direction,
        from_number=from_number,
        to_number=to_number,
    )


def test_caller_id_passes_an_inbound_callers_number_only() -> None:
    inbound = _record("inbound", CALLER, OURS)
    outbound = _record("outbound", OURS, CALLER)
    assert caller_id(inbound, pass_caller_id=True) == CALLER
    assert caller_id(inbound, pass_caller_id=False) == OURS
    # The callee of our call is not a number every carrier lets us show: ours is shown.
    assert caller_id(outbound, pass_caller_id=True) == OURS
    # A withheld or garbled caller: our number.
    assert caller_id(_record("inbound", "anonymous", OURS), pass_caller_id=True) == OURS


def test_the_plan_names_the_label_in_its_url_never_the_number() -> None:
    settings = Settings.model_validate(
        {
            "publicUrl": "https://voice.example.test",
            "calls": {"transfer": {"targets": [t.model_dump() for t in TARGETS]}},
        }
    )
    planned = plan_transfer(_record("inbound", CALLER, OURS), TARGETS[0], settings)
    assert (planned.number, planned.caller_id) == ("+14155550142", CALLER)
    assert planned.document_url == (
        "https://voice.example.test/voice/transfer?call=call_0123456789abcdef&target=front+desk"
    )


async def test_the_transfer_document_dials_only_for_the_call_and_label(store: Store) -> None:
    """What /voice/transfer answers the carrier, read from the store (on both backends):
    the target's number and caller ID for the call's own carrier id and a configured label;
    a hang-up for anything else."""
    settings = Settings.model_validate(
        {
            "publicUrl": "https://voice.example.test",
            "calls": {"transfer": {"targets": [t.model_dump() for t in TARGETS]}},
        }
    )
    record = _record("inbound", CALLER, OURS)
    record.carrier_sid = "uuid-of-the-call"
    store.insert_call(record)
    await store.flush()
    found = await transfer_document(store, settings, record.id, "Billing", "uuid-of-the-call")
    assert found == Dial("+14155550143", CALLER)
    for call_id, label, sid in [
        (record.id, "billing", "uuid-of-the-call"),  # our own URL names the exact label
        (record.id, "Billing", "another-call"),
        (record.id, "Billing", ""),
        ("call_unknown", "Billing", "uuid-of-the-call"),
        (record.id, "+14155550143", "uuid-of-the-call"),
    ]:
        assert await transfer_document(store, settings, call_id, label, sid) == HangUp()


def test_calls_show_and_the_timeline_say_where_the_call_went() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, color_system=None)
    outcome = {
        "success": True,
        "summary": "Transferred to front desk",
        "details": {},
        "transferred_to": "front desk",
    }
    record = {
        **_record("inbound", CALLER, OURS).model_dump(),
        "status": "completed",
        "end_reason": "transferred",
        "outcome": outcome,
    }
    show_call(console, {"call": record, "transcript": []})
    print_outcome(console, {"call": record, "events": []})
    transfer = {"target": "front desk", "number": "+1415…42", "caller_id": "+1415…77"}
    print_entry(console, {"t_ms": 2000, "kind": "transfer", "data": transfer})
    refused = {"target": "front desk", "error": "Telnyx refused the request (403)"}
    print_entry(console, {"t_ms": 2000, "kind": "transfer.failed", "data": refused})
    unanswered = {"target": "front desk", "cause": "user_busy"}
    print_entry(console, {"t_ms": 9000, "kind": "transfer.failed", "data": unanswered})
    ended = {"target": "front desk", "cause": "normal_clearing"}
    print_entry(console, {"t_ms": 90000, "kind": "transfer.ended", "data": ended})
    text = buffer.getvalue()
    assert "transferred to: front desk" in text
    assert "transferred to  front desk" in text  # the outcome panel's row
    assert "handed to front desk (+1415…42, showing +1415…77)" in text
    assert "refused the transfer to front desk: Telnyx refused the request (403)" in text
    assert "front desk did not answer (user_busy): the caller's line was hung up" in text
    assert "front desk hung up (normal_clearing): the caller's line was hung up" in text


def test_an_outcome_handed_over_then_never_answered() -> None:
    ours = handed_over(None, "front desk")
    assert ours == Outcome(
        success=True, summary="Transferred to front desk", transferred_to="front desk"
    )
    assert never_answered(ours, "user_busy") == Outcome(
        success=False, summary="Transfer to front desk failed (user_busy)"
    )
    # The model's own report is kept; only where the call went is taken back.
    reported = Outcome(success=False, summary="Wanted billing.", details={"topic": "billing"})
    assert handed_over(reported, "Billing").transferred_to == "Billing"
    assert never_answered(handed_over(reported, "Billing"), "timeout") == reported
