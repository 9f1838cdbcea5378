"""The in-call tools' arguments: parsed and validated before anything runs.

A tool call from the model is untrusted input like any other: bad JSON, missing fields or
unknown tools become an error result the model can read and recover from, never an
exception in the bridge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError

from voicecall_rt import prompts
from voicecall_rt.audio.dtmf import validate_digits
from voicecall_rt.call.records import Outcome
from voicecall_rt.config_business import TransferTarget
from voicecall_rt.outcome_schema import FREE_FORM, DetailsShape, SchemaShape, embedded

TOOL_NAMES = frozenset(
    {"send_dtmf", "report_outcome", "end_call", "mark_do_not_call", "transfer_call"}
)


@dataclass(frozen=True)
class CallTools:
    """One call's tools: what every session of it declares to the model, and what its
    report_outcome details must be like."""

    declarations: list[dict[str, Any]]
    details: DetailsShape


FREE_FORM_TOOLS = CallTools(prompts.TOOLS, FREE_FORM)


def call_tools(
    outcome_schema: dict[str, Any] | None, transfer_labels: Sequence[str] = ()
) -> CallTools:
    """The tools for a call with this (already checked) outcome schema, or without one;
    transfer_call too when there are transfer targets (`transfer_labels`)."""
    if outcome_schema is None:
        tools = FREE_FORM_TOOLS
    else:
        details = embedded(outcome_schema, at=prompts.DETAILS_POINTER)
        tools = CallTools(prompts.declare_tools(details), SchemaShape(outcome_schema))
    if not transfer_labels:
        return tools
    transfer = prompts.transfer_call_tool(transfer_labels)
    return CallTools([*tools.declarations, transfer], tools.details)


class ToolError(ValueError):
    """The tool call cannot run; the message goes back to the model."""


def parse_arguments(raw: str) -> dict[str, Any]:
    try:
        arguments = orjson.loads(raw or "{}")
    except orjson.JSONDecodeError:
        raise ToolError("arguments are not valid JSON") from None
    if not isinstance(arguments, dict):
        raise ToolError("arguments must be a JSON object")
    return arguments


def outcome_from(arguments: dict[str, Any], details: DetailsShape = FREE_FORM) -> Outcome:
    """The outcome reported, if its fields are valid and its details fit `details`;
    ToolError naming each problem otherwise (the model reads it and can try again)."""
    try:
        outcome = Outcome.model_validate(
            {
                "success": arguments.get("success"),
                "summary": arguments.get("summary", ""),
                "details": arguments.get("details") or {},
            }
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_input=False)
        )
        raise ToolError(f"invalid report_outcome arguments: {problems}") from None
    misfits = details.problems(outcome.details)
    if misfits:
        raise ToolError(
            "report_outcome details do not fit the outcome schema: "
            + "; ".join(misfits)
            + ". Nothing was recorded: correct the details and call report_outcome again."
        )
    return outcome


def digits_from(arguments: dict[str, Any]) -> str:
    digits = arguments.get("digits")
    if not isinstance(digits, str):
        raise ToolError("send_dtmf needs 'digits', a string like '1' or '123#'")
    try:
        return validate_digits(digits)
    except ValueError as exc:
        raise ToolError(str(exc)) from None


def reason_from(arguments: dict[str, Any]) -> str:
    reason = arguments.get("reason", "")
    return reason[:200] if isinstance(reason, str) else ""


def transfer_target_from(
    arguments: dict[str, Any], targets: Sequence[TransferTarget]
) -> TransferTarget:
    """The configured target transfer_call names by its label (exact, case-insensitive once
    trimmed). Never a number the model gives: anything else is a ToolError."""
    label = arguments.get("target")
    if not targets:
        raise ToolError("no transfer target is configured: the call cannot be transferred")
    labels = ", ".join(repr(t.label) for t in targets)
    if not isinstance(label, str):
        raise ToolError(f"transfer_call needs 'target', one of: {labels}")
    wanted = label.strip().lower()
    for target in targets:
        if target.label.strip().lower() == wanted:
            return target
    raise ToolError(f"unknown transfer target {label[:60]!r}: use one of {labels}")
