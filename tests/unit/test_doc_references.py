"""The repository's own documents stay true to what cites and describes them.

- Code, tests, benchmarks and README.md cite the design and the protocol reference as
  `docs/design.md §N` / `docs/protocols.md §N.M` (a range `§5.1-5.2` and a list
  `§4.3, §4.4` are allowed). Every cited section must exist as a numbered heading in that
  file (`## 4. Twilio`, `### 4.5 Media Streams …`). The old forms that pointed at documents
  outside the repository (the upper-case names, or the file name without `docs/`) fail.
- README.md's layout (the code block that starts with `src/voicecall_rt/`) names every
  module and package of the source tree, and nothing that is not there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "voicecall_rt"
DOCS = ("docs/design.md", "docs/protocols.md")
SCANNED = ("src", "tests", "benchmarks")
_SKIPPED_DIRS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"})

_NUMBER = r"\d+(?:\.\d+)*"
# `docs/protocols.md §4.5`, `` `docs/design.md` §3 ``, `docs/protocols.md §4.2-4.4`,
# `docs/protocols.md §4.3, §4.4 and §4.5`.
_CITATION = re.compile(
    r"(docs/(?:design|protocols)\.md)`?"
    rf"((?:\s*(?:,|and)?\s*§\s*{_NUMBER}(?:\s*[-–]\s*§?\s*{_NUMBER})?)+)"
)
_REFERENCE = re.compile(rf"§\s*({_NUMBER})(?:\s*[-–]\s*§?\s*({_NUMBER}))?")
# The citation forms from before the documents moved into the repository, and any other
# document cited by its bare file name (research notes kept elsewhere): only a path under
# docs/ is in the repository.
_OLD_FORMS = (
    re.compile(r"\b(?:DESIGN|PROTOCOLS)(?:\.md)?`?\s*§"),
    re.compile(r"(?<![\w/.-])(?!(?:DESIGN|PROTOCOLS)\.md)[A-Za-z][\w-]*\.md`?\s*§"),
)
_HEADING = re.compile(rf"^#{{1,6}}\s+({_NUMBER})\.?\s", re.MULTILINE)


def _text_files() -> Iterator[Path]:
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*")):
            if path.is_file() and not _SKIPPED_DIRS.intersection(path.parts):
                yield path
    yield ROOT / "README.md"


def _read(path: Path) -> str | None:
    """The file's text, or None for a binary file (plots, databases)."""
    data = path.read_bytes()
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _sections(doc: str) -> set[str]:
    path = ROOT / doc
    if not path.is_file():
        return set()
    return set(_HEADING.findall(path.read_text(encoding="utf-8")))


def _cited(references: str) -> Iterator[str]:
    """Each section a citation's references name; a range `4.2-4.4` names 4.2, 4.3, 4.4."""
    for match in _REFERENCE.finditer(references):
        first, last = match.group(1), match.group(2)
        yield first
        if last is None:
            continue
        yield last
        head, _, low = first.rpartition(".")
        head_last, _, high = last.rpartition(".")
        if head == head_last and low.isdigit() and high.isdigit():
            for middle in range(int(low) + 1, int(high)):
                yield f"{head}.{middle}" if head else str(middle)


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def test_cited_sections_exist() -> None:
    sections = {doc: _sections(doc) for doc in DOCS}
    for doc, found in sections.items():
        assert found, f"{doc} is missing or has no numbered headings"
    problems: list[str] = []
    citations = 0
    for path in _text_files():
        text = _read(path)
        if text is None:
            continue
        where = path.relative_to(ROOT)
        for pattern in _OLD_FORMS:
            for match in pattern.finditer(text):
                problems.append(
                    f"{where}:{_line(text, match.start())}: {match.group(0)!r} points outside "
                    "the repository; cite `docs/design.md §N` or `docs/protocols.md §N.M`"
                )
        for match in _CITATION.finditer(text):
            doc = match.group(1)
            for number in _cited(match.group(2)):
                citations += 1
                if number not in sections[doc]:
                    problems.append(
                        f"{where}:{_line(text, match.start())}: cites {doc} §{number}, "
                        "which has no such heading"
                    )
    assert not problems, "\n".join(problems)
    assert citations, "no citation found at all: is the scan looking in the right places?"


def test_citation_parsing() -> None:
    """The citation forms the scan understands (guards the regular expressions)."""
    text = (
        "see docs/protocols.md §4.5, docs/design.md §3; "
        "`docs/protocols.md` §4.2-4.4 and docs/protocols.md §5.1, §5.3 and §1.10."
    )
    found = [(m.group(1), list(_cited(m.group(2)))) for m in _CITATION.finditer(text)]
    assert found == [
        ("docs/protocols.md", ["4.5"]),
        ("docs/design.md", ["3"]),
        ("docs/protocols.md", ["4.2", "4.4", "4.3"]),
        ("docs/protocols.md", ["5.1", "5.3", "1.10"]),
    ]
    # Spelled in pieces, or this file would fail its own scan.
    upper, lower, mark = ("PROTOCOLS", "DESIGN.md"), "protocols" + ".md", " §"
    other = "notes" + ".md"
    old = f"{upper[0]}{mark}4.5 · {upper[1]}{mark}3 · {lower}{mark}1 · RFC 6455 §5.1"
    old += f" · research: {other}{mark}3"
    in_repo = " · docs/design.md §2 · docs/business.md §Guards"
    assert [m.group(0) for p in _OLD_FORMS for m in p.finditer(old + in_repo)] == [
        upper[0] + mark,
        upper[1] + mark,
        lower + mark,
        other + mark,
    ]


# ---- README.md's layout ------------------------------------------------------------------

_LAYOUT_ROOT = "src/voicecall_rt/"
# `scenario(s).py` names scenario.py and scenarios.py.
_OPTIONAL_SUFFIX = re.compile(r"\b(\w+)\((\w+)\)\.py\b")
# A module (`bridge.py`, `twilio/rest.py`), a package (`twilio/`), or a parenthesis.
_TOKEN = re.compile(r"\(|\)|\b[A-Za-z_]\w*(?:/[A-Za-z_]\w*)*(?:\.py\b|/)")
_PACKAGE_LINE = re.compile(r"^ {1,3}([A-Za-z_]\w*/)\s")


def _layout_block(readme: str) -> list[str]:
    """The lines of the README's code block that lays out the package, below its first."""
    lines = readme.splitlines()
    for start, line in enumerate(lines):
        if line.strip() != _LAYOUT_ROOT or start == 0 or not lines[start - 1].startswith("```"):
            continue
        block = []
        for following in lines[start + 1 :]:
            if following.startswith("```") or (following and not following[0].isspace()):
                break
            block.append(following)
        return block
    raise AssertionError(f"README.md has no code block starting with {_LAYOUT_ROOT!r}")


def _named(line: str, package: str) -> Iterator[str]:
    """Paths (relative to the package root) a layout line names; a name inside parentheses
    right after `dir/` is relative to that directory, elsewhere to the line's package."""
    line = _OPTIONAL_SUFFIX.sub(r"\1.py \1\2.py", line)
    contexts = [package]
    last = ""
    for match in _TOKEN.finditer(line):
        token = match.group(0)
        if token == "(":
            contexts.append(contexts[-1] + last if last.endswith("/") else contexts[-1])
        elif token == ")":
            if len(contexts) > 1:
                contexts.pop()
        else:
            yield contexts[-1] + token
        last = token


def readme_layout_names() -> set[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    names: set[str] = set()
    package = ""
    for line in _layout_block(readme):
        if not line.strip():
            continue
        start = _PACKAGE_LINE.match(line)
        if start is not None:
            package = start.group(1)
            names.add(package)
            line = line[start.end() :]
        elif len(line) - len(line.lstrip()) <= 3:
            package = ""  # a line of top-level modules
        names.update(_named(line, package))
    return names


def source_tree_names() -> set[str]:
    """Every module (`call/bridge.py`) and package (`carrier/twilio/`) of the source tree."""
    names: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        if _SKIPPED_DIRS.intersection(path.parts):
            continue
        relative = path.relative_to(PACKAGE)
        if path.name == "__init__.py":
            if relative.parent != Path():
                names.add(relative.parent.as_posix() + "/")
        else:
            names.add(relative.as_posix())
    return names


def test_readme_layout_parsing() -> None:
    assert set(_named("twilio/ (rest.py · webhooks.py) · link.py (writes)", "carrier/")) == {
        "carrier/twilio/",
        "carrier/twilio/rest.py",
        "carrier/twilio/webhooks.py",
        "carrier/link.py",
    }
    assert set(_named("scenario(s).py · world.py", "simulator/")) == {
        "simulator/scenario.py",
        "simulator/scenarios.py",
        "simulator/world.py",
    }


def test_readme_layout_matches_the_tree() -> None:
    named = readme_layout_names()
    actual = source_tree_names()
    missing = sorted(actual - named)
    unknown = sorted(name for name in named - actual if not (PACKAGE / name.rstrip("/")).exists())
    assert not missing and not unknown, (
        f"README.md's layout omits {missing} and names what does not exist: {unknown}"
    )
