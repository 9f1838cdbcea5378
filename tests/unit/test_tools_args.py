"""In-call tool arguments: untrusted model output, validated into results or ToolErrors."""

from __future__ import annotations

from typing import Any

import pytest

from voicecall_rt.call.records import Outcome
from voicecall_rt.call.tools import (
    TOOL_NAMES,
    ToolError,
    call_tools,
    digits_from,
    outcome_from,
    parse_arguments,
    reason_from,
)
from voicecall_rt.prompts import TOOLS


def test_tool_names_match_offered_tools() -> None:
    # transfer_call is offered only with transfer targets (tests/unit/test_transfer_tool.py).
    assert {t["name"] for t in TOOLS} == TOOL_NAMES - {"transfer_call"}
    with_targets = call_tools(None, ["front desk"]).declarations
    assert {t["name"] for t in with_targets} == TOOL_NAMES


# --------------------------------------------------------------------------- parse_arguments


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ('{"digits": "1"}', {"digits": "1"}),
        (
            '{"success": true, "summary": "ok", "details": {"n": 1}}',
            {"success": True, "summary": "ok", "details": {"n": 1}},
        ),
        ("{}", {}),
        ("", {}),  # a tool without arguments
        ('  {"reason": "done"}  ', {"reason": "done"}),
    ],
)
def test_parse_arguments(raw: str, parsed: dict[str, Any]) -> None:
    assert parse_arguments(raw) == parsed


@pytest.mark.parametrize("raw", ["{", "{'digits': '1'}", "digits=1", '{"a": 1,}', "nan", "{"])
def test_parse_arguments_bad_json(raw: str) -> None:
    with pytest.raises(ToolError, match="not valid JSON"):
        parse_arguments(raw)


@pytest.mark.parametrize("raw", ["[]", '["1"]', '"1"', "1", "null", "true"])
def test_parse_arguments_non_object(raw: str) -> None:
    with pytest.raises(ToolError, match="JSON object"):
        parse_arguments(raw)


def test_tool_error_is_a_value_error() -> None:
    assert issubclass(ToolError, ValueError)


# --------------------------------------------------------------------------- outcome_from


def test_outcome_valid() -> None:
    outcome = outcome_from(
        {
            "success": True,
            "summary": "Table for 4 booked Friday 7pm.",
            "details": {"confirmation": "A1B2", "party": 4},
        }
    )
    assert isinstance(outcome, Outcome)
    assert outcome.success is True
    assert outcome.summary == "Table for 4 booked Friday 7pm."
    assert outcome.details == {"confirmation": "A1B2", "party": 4}


def test_outcome_failure_reported() -> None:
    outcome = outcome_from({"success": False, "summary": "They were closed."})
    assert outcome.success is False
    assert outcome.details == {}


def test_outcome_summary_optional_details_null() -> None:
    outcome = outcome_from({"success": True, "details": None})
    assert outcome.summary == ""
    assert outcome.details == {}


def test_outcome_summary_at_limit() -> None:
    assert len(outcome_from({"success": True, "summary": "s" * 2000}).summary) == 2000


@pytest.mark.parametrize(
    "arguments", [{}, {"summary": "no success flag"}, {"success": None, "summary": "x"}]
)
def test_outcome_missing_success(arguments: dict[str, Any]) -> None:
    with pytest.raises(ToolError, match="success") as info:
        outcome_from(arguments)
    assert str(info.value).startswith("invalid report_outcome arguments")


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"success": "maybe", "summary": "x"}, "success"),
        ({"success": [True], "summary": "x"}, "success"),
        ({"success": {"v": True}, "summary": "x"}, "success"),
        ({"success": True, "summary": 42}, "summary"),
        ({"success": True, "summary": ["a", "b"]}, "summary"),
        ({"success": True, "summary": None}, "summary"),
        ({"success": True, "summary": "x", "details": "see notes"}, "details"),
        ({"success": True, "summary": "x", "details": [1, 2]}, "details"),
    ],
)
def test_outcome_wrong_types(arguments: dict[str, Any], field: str) -> None:
    with pytest.raises(ToolError, match=field):
        outcome_from(arguments)


def test_outcome_summary_too_long() -> None:
    with pytest.raises(ToolError, match="summary") as info:
        outcome_from({"success": True, "summary": "s" * 2001})
    assert "2000" in str(info.value)


def test_outcome_error_does_not_echo_input() -> None:
    secret = "SECRET-card-4111111111111111"
    with pytest.raises(ToolError) as info:
        outcome_from({"success": secret, "summary": "x"})
    assert secret not in str(info.value)


def test_outcome_ignores_unknown_arguments() -> None:
    assert outcome_from({"success": True, "summary": "x", "mood": "happy"}).success is True


# --------------------------------------------------------------------------- digits_from


@pytest.mark.parametrize(
    ("digits", "normalised"),
    [
        ("1", "1"),
        ("0123456789", "0123456789"),
        ("*#", "*#"),
        ("ABCD", "ABCD"),
        ("abcd", "ABCD"),
        ("1a2b", "1A2B"),
        ("w", "w"),
        ("1w2", "1w2"),
        ("1,,2", "1,,2"),
        ("ww1234#", "ww1234#"),
        ("9" * 64, "9" * 64),
    ],
)
def test_digits_valid(digits: str, normalised: str) -> None:
    assert digits_from({"digits": digits}) == normalised


@pytest.mark.parametrize(
    "digits",
    [
        "",
        "1 2",
        "1-2",
        "E",
        "e",
        "W",  # Twilio's pause is lower-case only
        "12x",
        "+1",
        "1\n",
        "１",  # full-width digit
        "٣",  # Arabic-Indic digit
        "9" * 65,
    ],
)
def test_digits_invalid(digits: str) -> None:
    with pytest.raises(ToolError):
        digits_from({"digits": digits})


def test_digits_invalid_names_the_bad_characters() -> None:
    with pytest.raises(ToolError, match="x"):
        digits_from({"digits": "12x"})


@pytest.mark.parametrize("digits", [None, 1, 123, ["1"], {"d": "1"}, True])
def test_digits_non_string(digits: Any) -> None:
    with pytest.raises(ToolError, match="digits"):
        digits_from({"digits": digits})


def test_digits_missing() -> None:
    with pytest.raises(ToolError, match="digits"):
        digits_from({})


# --------------------------------------------------------------------------- reason_from


def test_reason_from() -> None:
    assert reason_from({"reason": "goal achieved"}) == "goal achieved"


def test_reason_missing_is_empty() -> None:
    assert reason_from({}) == ""


@pytest.mark.parametrize("reason", [None, 5, ["done"], {"why": "done"}])
def test_reason_non_string_is_empty(reason: Any) -> None:
    assert reason_from({"reason": reason}) == ""


def test_reason_bounded() -> None:
    assert reason_from({"reason": "r" * 1000}) == "r" * 200
