"""Persistence (docs/design.md §8): calls, transcript lines and timeline events.

All writes go through one writer task (`writer`). The write methods are plain functions
that put an operation on a queue and return at once, so the code next to the audio path
never waits on the database; the writer drains whatever has accumulated and commits it as
one transaction. Reads flush first, so a read sees every write enqueued before it.

`base` holds `Store` (what the rest of the program uses), `reads` its queries, `rows` the
record ↔ columns conversions, `dialect` where the backends' SQL differs. The backends:
`sqlite/` (one machine, the default) and `postgres/` (`store.url`: several instances).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from voicecall_rt.store.base import Store
from voicecall_rt.store.errors import StoreError
from voicecall_rt.store.sqlite.files import DB_FILENAME

if TYPE_CHECKING:
    from voicecall_rt.config import Settings

__all__ = ["DB_FILENAME", "Store", "StoreError", "open_store", "store_exists", "store_where"]


async def open_store(settings: Settings, *, create: bool = True) -> Store:
    """The store the settings name: PostgreSQL at `store.url`, else SQLite in `dataDir`.
    `create=False`: a PostgreSQL database without our tables is refused, not set up."""
    if settings.store.url is not None:
        # Imported here: asyncpg is loaded only by those who use PostgreSQL.
        from voicecall_rt.store.postgres.database import PostgresStore

        return await PostgresStore.open(settings.store.url.get_secret_value(), create=create)
    from voicecall_rt.store.sqlite.database import SqliteStore

    return await SqliteStore.open(settings.data_dir)


def store_exists(settings: Settings) -> bool:
    """Whether there may be a call history to read without creating one (a SQLite file
    is made on first open; a PostgreSQL database is the operator's to create)."""
    return settings.store.url is not None or (settings.data_dir / DB_FILENAME).is_file()


def store_where(settings: Settings) -> str:
    """Where the call history is, for people (a PostgreSQL URL without its password)."""
    if settings.store.url is not None:
        from voicecall_rt.store.postgres.connect import masked_url

        return masked_url(settings.store.url.get_secret_value())
    return str(settings.data_dir / DB_FILENAME)
