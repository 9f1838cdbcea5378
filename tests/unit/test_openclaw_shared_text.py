"""The OpenClaw plugin's tool texts come from the MCP server's (one source): the generated
module in integrations/openclaw is what its generator makes of them today."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from voicecall_rt import mcp_server

SCRIPT = (
    Path(__file__).resolve().parents[2]
    / "integrations"
    / "openclaw"
    / "scripts"
    / "gen_shared_text.py"
)


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_shared_text", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_generated_module_is_current() -> None:
    generator = _generator()
    committed = generator.TARGET.read_text(encoding="utf-8")
    assert committed == generator.render(), (
        f"{generator.TARGET} is out of date: run .venv/bin/python {SCRIPT}"
    )


def test_the_plugin_gets_the_whole_brief_guidance_and_no_mcp_waiting() -> None:
    generator = _generator()
    description = mcp_server.MAKE_PHONE_CALL_DESCRIPTION
    guidance = generator.brief_guidance(description)
    caution = generator.call_caution(description)
    for needed in (
        "second person",
        "on whose behalf",
        "GOOD systemPrompt",
        "BAD systemPrompt",
        "outcomeSchema",
    ):
        assert needed in guidance
    assert "wait" not in guidance.lower()
    assert caution.startswith("A call reaches real people") and description.endswith(caution)
    # Nothing of the MCP description is lost but how its tool follows the call.
    dropped = description.replace(guidance, "").replace(caution, "")
    assert dropped.strip().startswith("Following the call:")
