"""The OpenClaw skill: its front matter is valid YAML with what OpenClaw and ClawHub read
(docs/tools/skills.md, clawhub/skill-format.md), its version is the package's, and the
commands it teaches exist."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml  # type: ignore[import-untyped]  # PyYAML: OpenClaw reads YAML first

import voicecall_rt
from voicecall_rt import cli
from voicecall_rt.cli.shared import EXIT_CONFIG, EXIT_FAILED, EXIT_NO_SERVER
from voicecall_rt.config_file import CONFIG_ENV, ENV_KEYS
from voicecall_rt.mcp_results import MAX_WAIT_S

ROOT = Path(__file__).resolve().parents[2]
SKILL = ROOT / "skills" / "openclaw" / "SKILL.md"
PYPROJECT = ROOT / "pyproject.toml"

_KEY_LINE = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*): (\S.*)")
# A plain (unquoted) YAML scalar may not start with an indicator character.
_INDICATORS = set("-?:,[]{}#&*!|>'\"%@`")


def parse_front_matter(text: str) -> dict[str, Any]:
    """A strict reader for the subset of YAML the skill uses (and OpenClaw's own parser
    reads): one `key: value` per line, each value a plain scalar, a double-quoted string,
    or a JSON object/array written on that line (JSON is valid YAML flow style)."""
    lines = text.split("\n")
    assert lines[0] == "---", "SKILL.md must open with a --- line"
    end = lines.index("---", 1)
    data: dict[str, Any] = {}
    for number, line in enumerate(lines[1:end], start=2):
        assert "\t" not in line, f"line {number}: tabs are not allowed in YAML"
        match = _KEY_LINE.fullmatch(line)
        assert match, f"line {number}: not a single-line `key: value`: {line!r}"
        key, raw = match.groups()
        assert key not in data, f"line {number}: duplicate key {key}"
        if raw[0] in "{[" or raw[0] == '"':
            data[key] = json.loads(raw)
            continue
        assert raw[0] not in _INDICATORS, f"line {number}: plain scalar starts with {raw[0]!r}"
        assert ": " not in raw and " #" not in raw, f"line {number}: quote this value"
        assert not raw.endswith((":", " ")), f"line {number}: quote this value"
        data[key] = raw
    return data


@pytest.fixture(scope="module")
def front() -> dict[str, Any]:
    return parse_front_matter(SKILL.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def project() -> dict[str, Any]:
    data: dict[str, Any] = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    return data


def test_version_is_the_same_everywhere(front: dict[str, Any], project: dict[str, Any]) -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+([.-]?[0-9A-Za-z.]+)?", project["version"])
    assert front["version"] == project["version"] == voicecall_rt.__version__


def test_required_fields(front: dict[str, Any]) -> None:
    assert set(front) >= {"name", "description", "version", "metadata"}
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", front["name"])
    assert 20 <= len(front["description"]) <= 400


def test_a_real_yaml_parser_reads_the_same(front: dict[str, Any]) -> None:
    """OpenClaw parses the front matter as YAML first (then JSON5 for `metadata`)."""
    text = SKILL.read_text(encoding="utf-8")
    parsed = yaml.safe_load(text.split("\n---\n", 1)[0].removeprefix("---\n"))
    assert parsed == front


def test_openclaw_metadata(front: dict[str, Any], project: dict[str, Any]) -> None:
    meta = front["metadata"]["openclaw"]
    assert set(meta) <= {
        "always",
        "emoji",
        "envVars",
        "homepage",
        "install",
        "os",
        "primaryEnv",
        "requires",
        "skillKey",
    }
    # Only the binary gates the skill: the server's secrets usually live in its config
    # file, and `requires.env` would hide the skill unless they were in the environment.
    assert "voicecall-rt" in project["scripts"]
    assert meta["requires"] == {"bins": ["voicecall-rt"]}
    assert "primaryEnv" not in meta
    # Every variable the commands it teaches may read is declared, as optional.
    declared = {entry["name"]: entry for entry in meta["envVars"]}
    assert set(declared) == {*ENV_KEYS, CONFIG_ENV}
    for entry in declared.values():
        assert set(entry) == {"name", "required", "description"}
        assert entry["required"] is False and 20 <= len(entry["description"]) <= 200
    (install,) = meta["install"]
    assert set(install) == {"id", "kind", "package", "bins", "label"}
    assert install["kind"] == "uv"
    assert install["package"] == project["name"] == "openclaw-voice-gpt-realtime"
    assert install["bins"] == ["voicecall-rt"]


def test_it_says_when_to_use_the_plugin_mcp_or_itself() -> None:
    body = SKILL.read_text(encoding="utf-8").split("\n---\n", 1)[1]
    section = body.split("## Plugin, MCP tools or this skill", 1)[1].split("\n## ", 1)[0]
    for needed in (
        "openclaw plugins install",
        "named exactly `make_phone_call`",
        "openclaw mcp add",
        "--command voicecall-rt",
        "--arg mcp",
        f"waitSeconds: {MAX_WAIT_S}",
        "`active: true`",
        "notifyOnExit",
    ):
        assert needed in section, needed


def _options(command: Any) -> set[str]:
    return {opt for param in command.params for opt in getattr(param, "opts", [])}


def test_the_commands_it_teaches_exist() -> None:
    body = SKILL.read_text(encoding="utf-8").split("\n---\n", 1)[1]
    commands: dict[str, Any] = typer.main.get_command(cli.app).commands  # type: ignore[attr-defined]
    assert {"-n", "-t", "--wait", "--json", "--prompt-file"} <= _options(commands["call"])
    assert "voicecall-rt call -n +14155551234 -t" in body and "--wait --json" in body
    assert "--json" in _options(commands["calls"].commands["show"])
    assert "voicecall-rt calls show" in body
    for name in ("status", "serve"):
        assert name in commands and f"voicecall-rt {name}" in body
    # The exit codes it explains are the CLI's.
    assert (EXIT_FAILED, EXIT_CONFIG, EXIT_NO_SERVER) == (1, 2, 3)
    for code in ("| 0 |", "| 1 |", "| 2 |", "| 3 |"):
        assert code in body


@pytest.mark.parametrize(
    "bad",
    [
        "---\nname: x\ndescription: a: b\n---\n",
        "---\nname: x\n  nested: y\n---\n",
        "---\nname: [unclosed\n---\n",
        "---\nname: x\nname: y\n---\n",
        "---\nname: x # comment\n---\n",
    ],
)
def test_the_reader_is_strict(bad: str) -> None:
    with pytest.raises((AssertionError, ValueError)):
        parse_front_matter(bad)
