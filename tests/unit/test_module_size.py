"""No module over 400 lines: the product, the simulators, the benchmark, the tests, the
dashboard's scripts and the OpenClaw plugin alike (docs/design.md §3.1).

A module that grows past the limit is split by concern, not given an exemption: the only
files left out are those a program writes.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 400

# (folder, suffixes) whose files are held to the limit.
CHECKED = (
    ("src", (".py", ".js")),
    ("tests", (".py",)),
    ("benchmarks", (".py",)),
    ("integrations/openclaw/src", (".ts",)),
    ("integrations/openclaw/test", (".ts",)),
    ("integrations/openclaw/scripts", (".py", ".sh")),
)
# Written by a program, not by hand (integrations/openclaw/scripts/gen_shared_text.py).
GENERATED = frozenset({"integrations/openclaw/src/shared-text.generated.ts"})
SKIPPED_DIRS = frozenset({"node_modules", "__pycache__", ".venv", "dist"})


def _checked_files() -> list[Path]:
    found: list[Path] = []
    for folder, suffixes in CHECKED:
        for path in sorted((ROOT / folder).rglob("*")):
            relative = path.relative_to(ROOT)
            if SKIPPED_DIRS.intersection(relative.parts) or str(relative) in GENERATED:
                continue
            if path.is_file() and path.suffix in suffixes:
                found.append(path)
    return found


def test_the_check_finds_every_kind_of_module() -> None:
    names = {str(path.relative_to(ROOT)) for path in _checked_files()}
    for expected in (
        "src/voicecall_rt/call/bridge.py",
        "src/voicecall_rt/web/dashboard/app.js",
        "tests/unit/test_module_size.py",
        "benchmarks/run.py",
        "integrations/openclaw/src/index.ts",
    ):
        assert expected in names
    assert not any("node_modules" in name for name in names)


def test_no_module_is_over_the_limit() -> None:
    too_long = {
        str(path.relative_to(ROOT)): lines
        for path in _checked_files()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert too_long == {}, f"over {MAX_LINES} lines (split them by concern): {too_long}"
