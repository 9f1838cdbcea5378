"""The test suite's shape: no test module imports another test module or a conftest.

Code that several tests share lives in tests/helpers/ (and fixtures in a conftest.py, which
pytest finds by itself); importing a `test_*` module would collect or run its tests twice and
ties one test file's privates to another's.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]

# Only a file with an import naming `tests`, or a relative one, can import a test module:
# parsing just those keeps this check fast.
MAY_IMPORT_TESTS = re.compile(
    r"^[ \t]*(?:from[ \t]+(?:tests\b|\.)|import[ \t][^\n]*\btests\b)", re.MULTILINE
)


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(TESTS.parent).with_suffix("").parts)


def _is_test_or_conftest(dotted: str) -> bool:
    """A module of this suite (`tests.…`) that is a test module or a conftest."""
    parts = dotted.split(".")
    return parts[0] == "tests" and any(
        part.startswith("test_") or part == "conftest" for part in parts[1:]
    )


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, dotted name) of every module a file imports, relative imports resolved; for
    `from PACKAGE import NAME` also PACKAGE.NAME, since NAME may be a module."""
    text = path.read_text(encoding="utf-8")
    if not MAY_IMPORT_TESTS.search(text):
        return []
    tree = ast.parse(text, filename=str(path))
    package = _module_name(path).split(".")[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            found.extend((node.lineno, f"{module}.{alias.name}") for alias in node.names)
    return found


def test_the_checks_own_reading() -> None:
    assert _is_test_or_conftest("tests.unit.test_store")
    assert _is_test_or_conftest("tests.conftest")
    assert not _is_test_or_conftest("tests.helpers.records")
    assert not _is_test_or_conftest("voicecall_rt.store")
    assert not _is_test_or_conftest("aiohttp.test_utils")
    for line in (
        "from tests.unit import test_store",
        "    from . import conftest",
        "import os, tests.x",
    ):
        assert MAY_IMPORT_TESTS.search(f'"""Doc."""\n{line}\n'), line
    assert not MAY_IMPORT_TESTS.search("from voicecall_rt import store\n# from tests, ...\n")


def test_every_test_file_is_found() -> None:
    files = {p.relative_to(TESTS).as_posix() for p in TESTS.rglob("*.py")}
    assert "unit/test_test_layout.py" in files
    assert "conftest.py" in files
    assert "helpers/__init__.py" in files


def test_no_module_imports_a_test_module_or_a_conftest() -> None:
    offenders = [
        f"{path.relative_to(TESTS.parent).as_posix()}:{line}: imports {name}"
        for path in sorted(TESTS.rglob("*.py"))
        for line, name in _imported_modules(path)
        if _is_test_or_conftest(name)
    ]
    assert offenders == [], "shared test code belongs in tests/helpers/:\n" + "\n".join(offenders)
