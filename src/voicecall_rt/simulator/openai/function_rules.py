"""What the real API refuses in a function tool's `parameters`, for the fake server.

The SDK types `parameters` as any object, but the API checks it as a JSON Schema and
refuses the whole `session.update` (or `response.create`) when it is not one it takes.
Our outcome schemas end up here (report_outcome's `details`), so the fake must refuse
what the API would, or a test could pass with a declaration the real service rejects.

The checks and their wording, from the API's answers seen in the wild (code
`invalid_function_parameters`, param naming the tool's `parameters`):
- the top level must be an object schema: "schema must be a JSON Schema of 'type:
  \"object\"', got 'type: \"None\"'" (seen for Chat Completions tools);
- it must be a valid JSON Schema; the API words it as Python's jsonschema does, e.g.
  "[] is not of type 'object', 'boolean'" (FoundationAgents/OpenManus#1162). Checked
  here against Draft 2020-12's metaschema (which draft the API uses is not documented);
- every array needs `items`: "In context=('properties', 'configs'), array schema missing
  items." (streamnative/streamnative-mcp-server#26, gumloop/guMCP#136);
- `$ref` must point inside the schema: plausible wording, after Structured Outputs'
  "reference to component ... which was not found in the schema"; nothing is fetched.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

import referencing
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from voicecall_rt.outcome_schema import resolves  # a lookup by `referencing`, no fetching
from voicecall_rt.simulator.openai.client_event_check import ClientEventProblem

__all__ = ["function_parameters_problem"]

_CODE: Final = "invalid_function_parameters"
# Keywords whose values are data, not schemas: a `{"type": "array"}` inside an `enum` is a
# value the property may take.
_DATA: Final = frozenset({"enum", "const", "default", "examples"})
# No retrieval: referencing's default registry fails any URI it does not hold.
_META: Final = Draft202012Validator(
    Draft202012Validator.META_SCHEMA,
    registry=referencing.Registry(),
    format_checker=Draft202012Validator.FORMAT_CHECKER,
)


def function_parameters_problem(tool: dict[str, Any], param: str) -> ClientEventProblem | None:
    """Why the API would refuse this function tool's `parameters` (`param` names them)."""
    if "parameters" not in tool or tool["parameters"] is None:
        return None
    parameters = tool["parameters"]
    name = tool.get("name")

    def problem(text: str) -> ClientEventProblem:
        return ClientEventProblem(_CODE, f"Invalid schema for function '{name}': {text}", param)

    if not isinstance(parameters, dict) or parameters.get("type") != "object":
        got = parameters.get("type") if isinstance(parameters, dict) else None
        return problem(
            f"schema must be a JSON Schema of 'type: \"object\"', got 'type: \"{got}\"'."
        )
    error = best_match(_META.iter_errors(parameters))
    if error is not None:
        return problem(f"{error.message}.")
    for context, node in _nodes(parameters, ()):
        kinds = node.get("type")
        if (kinds == "array" or (isinstance(kinds, list) and "array" in kinds)) and (
            "items" not in node
        ):
            return problem(f"In context={context!r}, array schema missing items.")
        ref = node.get("$ref")
        if isinstance(ref, str) and not resolves(parameters, ref):
            return problem(
                f"In context={context!r}, reference to component '{ref}' which was not "
                "found in the schema."
            )
    return None


def _nodes(
    value: Any, context: tuple[str | int, ...]
) -> Iterator[tuple[tuple[str | int, ...], dict[str, Any]]]:
    """Every object in the schema that is in a schema position, with where it is."""
    if isinstance(value, dict):
        yield context, value
        for key, item in value.items():
            if key not in _DATA:
                yield from _nodes(item, (*context, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nodes(item, (*context, str(index)))
