"""SQLite's files: a private data folder and database (0700, 0600, sidecars too, loose
ones tightened), a symlinked database refused, WAL mode, the schema in `user_version` and
its indexes. What every backend does on opening is in test_store_opening.py.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.helpers.records import make_call
from tests.helpers.store_sql import sql
from voicecall_rt.store.sqlite import files as store_files
from voicecall_rt.store.sqlite.database import SqliteStore
from voicecall_rt.store.sqlite.files import DB_FILENAME
from voicecall_rt.store.sqlite.schema import SCHEMA_VERSION


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def plant_loose_files(data_dir: Path) -> None:
    """Loosen the dir and db, and leave world-writable sidecars as another opener might."""
    db = data_dir / DB_FILENAME
    data_dir.chmod(0o755)
    db.chmod(0o644)
    for suffix in ("-wal", "-shm"):
        sidecar = Path(f"{db}{suffix}")
        sidecar.touch()
        sidecar.chmod(0o666)


async def test_permissions_are_private(tmp_path: Path, open_umask: None) -> None:
    data_dir = tmp_path / "a" / "data"
    s = await SqliteStore.open(data_dir)
    try:
        s.insert_call(make_call("c"))
        s.add_event("c", 0, "k")
        await s.flush()
        db = data_dir / DB_FILENAME
        assert mode(data_dir) == 0o700
        assert mode(data_dir.parent) == 0o700  # created for us: private as well
        for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            assert path.exists(), path
            assert mode(path) == 0o600, path
    finally:
        await s.close()


async def test_sqlite_gives_sidecars_the_db_mode(
    tmp_path: Path, open_umask: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Our own chmod of the sidecars only repairs leftovers; the -wal/-shm SQLite creates
    # while we run must be 0600 by themselves (SQLite copies the database file's mode).
    monkeypatch.setattr(store_files, "tighten_sidecars", lambda path: None)
    s = await SqliteStore.open(tmp_path)
    try:
        s.insert_call(make_call("c"))
        await s.flush()
        db = tmp_path / DB_FILENAME
        for path in (Path(f"{db}-wal"), Path(f"{db}-shm")):
            assert mode(path) == 0o600, path
    finally:
        await s.close()


async def test_loose_existing_permissions_are_tightened(tmp_path: Path, open_umask: None) -> None:
    data_dir = tmp_path / "data"
    s = await SqliteStore.open(data_dir)
    s.insert_call(make_call("c"))
    await s.close()
    plant_loose_files(data_dir)
    db = data_dir / DB_FILENAME

    s = await SqliteStore.open(data_dir)
    try:
        assert await s.get_call("c") is not None
        assert mode(data_dir) == 0o700
        for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            assert mode(path) == 0o600, path
    finally:
        await s.close()


async def test_symlinked_db_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    (data_dir / DB_FILENAME).symlink_to(tmp_path / "elsewhere.sqlite3")
    with pytest.raises(OSError):
        await SqliteStore.open(data_dir)
    assert not (tmp_path / "elsewhere.sqlite3").exists()


async def test_wal_user_version_and_indexes(tmp_path: Path) -> None:
    s = await SqliteStore.open(tmp_path)
    s.insert_call(make_call("c"))
    await s.close()
    path = tmp_path / DB_FILENAME
    assert sql(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert sql(path, "PRAGMA journal_mode") == [("wal",)]
    indexes = {r[0] for r in sql(path, "SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"calls_by_created", "calls_by_status", "calls_by_carrier_sid"} <= indexes


async def test_data_dir_tilde_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    s = await SqliteStore.open(Path("~/vc"))
    try:
        assert s.path == tmp_path / "vc" / DB_FILENAME
    finally:
        await s.close()
