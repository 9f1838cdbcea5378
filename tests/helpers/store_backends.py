"""The backends a store test runs on: where its database is, how to open a store there
(again, as a restart or a second process would), and what only one backend does."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from tests.helpers.store_sql import postgres_sql, sqlite_sql
from voicecall_rt.store import Store
from voicecall_rt.store.postgres import schema as postgres_schema
from voicecall_rt.store.sqlite import schema as sqlite_schema
from voicecall_rt.store.sqlite.files import DB_FILENAME

BackendName = Literal["sqlite", "postgres"]
BACKENDS: Final[tuple[BackendName, ...]] = ("sqlite", "postgres")


@dataclass(frozen=True, slots=True)
class StoreBackend:
    """One database for one test: a SQLite data dir, or a fresh PostgreSQL database."""

    name: BackendName
    where: Path | str  # the data dir, or the database's URL

    async def open(self) -> Store:
        """A new store on this database (the first, or another beside or after it)."""
        if isinstance(self.where, Path):
            from voicecall_rt.store.sqlite.database import SqliteStore

            return await SqliteStore.open(self.where)
        from voicecall_rt.store.postgres.database import PostgresStore

        return await PostgresStore.open(self.where)

    @property
    def schema_version(self) -> int:
        """The version this program's migrations bring the schema to."""
        if self.name == "sqlite":
            return sqlite_schema.SCHEMA_VERSION
        return postgres_schema.SCHEMA_VERSION

    async def sql(self, statement: str) -> list[tuple[Any, ...]]:
        """One statement on this database from outside any store."""
        if isinstance(self.where, Path):
            return await sqlite_sql(self.where / DB_FILENAME, statement)
        return await postgres_sql(self.where, statement)

    async def set_schema_version(self, version: int) -> None:
        """Stamp the database with `version`, as another program version would leave it."""
        if self.name == "sqlite":
            await self.sql(f"PRAGMA user_version = {version}")
        else:
            await self.sql(f"UPDATE voicecall_rt_schema SET version = {version}")

    async def schema_version_stored(self) -> int:
        if self.name == "sqlite":
            rows = await self.sql("PRAGMA user_version")
        else:
            rows = await self.sql("SELECT version FROM voicecall_rt_schema")
        return int(rows[0][0])
