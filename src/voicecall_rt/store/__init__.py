"""SQLite persistence (docs/design.md §8): calls, transcript lines and timeline events.

All writes go through one writer task (`writer`). The write methods are plain functions
that put an operation on a queue and return at once, so the code next to the audio path
never waits on disk; the writer drains whatever has accumulated and commits it as one
transaction. Reads (`reads`) run on a second connection (WAL lets them proceed while the
writer commits) and flush first, so a read sees every write enqueued before it.

`database` holds `Store` and its writes, `schema` the tables and their migrations, `files`
the database's files and connections.
"""

from voicecall_rt.store.database import Store
from voicecall_rt.store.errors import StoreError
from voicecall_rt.store.files import DB_FILENAME
from voicecall_rt.store.schema import SCHEMA_VERSION

__all__ = ["DB_FILENAME", "SCHEMA_VERSION", "Store", "StoreError"]
