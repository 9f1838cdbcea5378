"""A store's database file read from outside, as another process would read it."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any


def sql(path: Path, statement: str) -> list[Any]:
    """Run one statement on a separate plain connection, as another process would."""
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        return db.execute(statement).fetchall()
