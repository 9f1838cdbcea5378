"""`voicecall-rt store copy` as users run it: a SQLite history copied into PostgreSQL with
a summary (the URL's password never printed), again with nothing copied twice, and the
exit codes of what it refuses (no SQLite file, no PostgreSQL named, a URL that is not
PostgreSQL's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.cli import cli, free_port, one_line, write_config
from tests.helpers.records import make_call
from tests.helpers.store_sql import postgres_sql
from voicecall_rt.call.records import CallStatus
from voicecall_rt.cli.shared import EXIT_CONFIG, EXIT_FAILED
from voicecall_rt.store.sqlite.database import SqliteStore

PASSWORD = "cli-s3cret"  # the test server trusts loopback: a password it never checks

pytestmark = pytest.mark.slow  # the CLI as a child process


def config_with_store(tmp_path: Path, data_dir: Path, url: str | None) -> Path:
    path = write_config(tmp_path / "cli.toml", data_dir, free_port())
    if url is not None:
        with path.open("a", encoding="utf-8") as config:
            config.write(f'\n[store]\nurl = "{url}"\n')
    return path


def summary_row(out: str, name: str) -> list[str]:
    """The copied / already there counts of one row of the summary table."""
    cells = [
        [cell.strip() for cell in line.strip("│ ").split("│")]
        for line in out.splitlines()
        if "│" in line
    ]
    return next(row[1:] for row in cells if row[0] == name)


async def test_copy_then_copy_again(tmp_path: Path, pg_url: str) -> None:
    data_dir = tmp_path / "data"
    sqlite = await SqliteStore.open(data_dir)
    try:
        sqlite.insert_call(make_call("done", status=CallStatus.COMPLETED))
        sqlite.insert_call(make_call("live", status=CallStatus.IN_PROGRESS, answered_at=1_200))
        for i in range(3):
            sqlite.add_transcript("done", i, "caller", f"line {i}")
        sqlite.add_event("done", 0, "call.created")
    finally:
        await sqlite.close()
    url = pg_url.replace("postgresql://postgres@", f"postgresql://postgres:{PASSWORD}@", 1)
    config = config_with_store(tmp_path, data_dir, url)

    code, out, err = await cli("store", "copy", config=config)
    assert code == 0, err
    assert summary_row(out, "calls") == ["2", "0"]
    assert summary_row(out, "transcript lines") == ["3", "0"]
    assert summary_row(out, "events") == ["1", "0"]
    assert "copied-while-live): live" in out
    assert f"to   {url.replace(PASSWORD, '***')}" in out.splitlines()
    assert f"from {data_dir / 'calls.sqlite3'}" in out.splitlines()
    assert PASSWORD not in out + err
    rows = await postgres_sql(pg_url, "SELECT id, status, end_reason FROM calls ORDER BY id")
    assert rows == [("done", "completed", None), ("live", "completed", "copied-while-live")]

    code, out, err = await cli("store", "copy", "--from", str(data_dir), config=config)
    assert code == 0, err
    assert summary_row(out, "calls") == ["0", "2"]
    assert summary_row(out, "transcript lines") == ["0", "3"]
    assert summary_row(out, "events") == ["0", "1"]
    assert "copied-while-live" not in out


async def test_what_copy_refuses(tmp_path: Path, pg_url: str) -> None:
    nowhere = tmp_path / "nowhere"
    config = config_with_store(tmp_path, nowhere, None)

    # No SQLite file: nothing to copy, and none made.
    code, out, err = await cli("store", "copy", "--to", pg_url, config=config)
    assert code == EXIT_FAILED
    assert "does not exist" in one_line(err) and out == ""
    assert not nowhere.exists()

    # No PostgreSQL named, in the config or on the command line.
    code, _, err = await cli("store", "copy", config=config)
    assert code == EXIT_CONFIG
    assert "--to" in one_line(err) and "store.url" in err

    # A URL that is not PostgreSQL's: refused without repeating it.
    code, _, err = await cli("store", "copy", "--to", f"mysql://u:{PASSWORD}@h/db", config=config)
    assert code == EXIT_CONFIG
    assert "postgresql://" in one_line(err) and PASSWORD not in err
