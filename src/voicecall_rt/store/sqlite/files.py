"""The database's files (one name, owner-only modes, no symlinks) and the connections on them."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import aiosqlite

from voicecall_rt.private_files import ensure_private_dir, ensure_private_file

DB_FILENAME: Final = "calls.sqlite3"
_BUSY_TIMEOUT_MS: Final = 5000


def prepare_files(data_dir: Path) -> Path:
    """Make the data dir (0700) and the database file (0600), tightening looser ones."""
    # config's default data dir is written with "~"; a literal "~" dir helps nobody.
    data_dir = ensure_private_dir(data_dir.expanduser())
    path = data_dir / DB_FILENAME
    # Created here, not by SQLite, so the mode is ours and not the umask's; never through a
    # symlink, so a planted one cannot redirect call data elsewhere.
    ensure_private_file(path)
    tighten_sidecars(path)
    return path


def tighten_sidecars(path: Path) -> None:
    """Make the database's -wal and -shm files, where they exist, 0600."""
    for suffix in ("-wal", "-shm"):
        ensure_private_file(path.with_name(path.name + suffix), create=False)


async def connect(path: Path) -> aiosqlite.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves; Python's implicit
    # transactions would hide where a batch starts and ends.
    conn = await aiosqlite.connect(path, isolation_level=None)
    try:
        await conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        await conn.execute("PRAGMA journal_mode = WAL")
        await conn.execute("PRAGMA synchronous = NORMAL")
        await conn.execute("PRAGMA foreign_keys = ON")
    except BaseException:
        await conn.close()
        raise
    return conn
