"""The throwaway PostgreSQL the store's tests run on (tests/helpers/postgres_server.py): it
answers, each test's database is its own, and a restart or a stop keeps committed data."""

from __future__ import annotations

import socket
from pathlib import Path

import asyncpg
import pytest

from tests.helpers.outside_judges import missing_tool
from tests.helpers.postgres_server import (
    TOOLS,
    PostgresMissingError,
    PostgresServer,
    find_bindir,
    version_key,
)


async def test_the_server_answers_with_the_test_settings(pg_url: str) -> None:
    conn = await asyncpg.connect(pg_url)
    try:
        assert await conn.fetchval("SELECT 1") == 1
        # loopback only, and durability off: the settings the helper promises
        assert await conn.fetchval("SHOW listen_addresses") == "127.0.0.1"
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            assert await conn.fetchval(f"SHOW {setting}") == "off", setting
        assert await conn.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname='public'") == 0
    finally:
        await conn.close()


async def test_two_new_databases_are_independent(postgres: PostgresServer) -> None:
    first, second = await postgres.new_database(), await postgres.new_database()
    assert first != second
    try:
        a = await asyncpg.connect(first)
        b = await asyncpg.connect(second)
        try:
            await a.execute("CREATE TABLE calls (id text PRIMARY KEY)")
            await a.execute("INSERT INTO calls VALUES ('CA1')")
            assert await b.fetchval("SELECT to_regclass('calls')") is None
            await b.execute("CREATE TABLE calls (id text PRIMARY KEY)")
            assert await b.fetchval("SELECT count(*) FROM calls") == 0
            assert await a.fetchval("SELECT count(*) FROM calls") == 1
        finally:
            await b.close()
        # dropping one ends its connections (WITH FORCE) and leaves the other alone
        await postgres.drop_database(second)
        with pytest.raises(asyncpg.InvalidCatalogNameError):
            await asyncpg.connect(second)
        assert await a.fetchval("SELECT id FROM calls") == "CA1"
        await a.close()
    finally:
        await postgres.drop_database(first)
        await postgres.drop_database(second)


async def test_restart_keeps_committed_data_and_cuts_old_connections(
    postgres: PostgresServer, pg_url: str
) -> None:
    before = await asyncpg.connect(pg_url)
    await before.execute("CREATE TABLE events (call_id text, seq int, PRIMARY KEY (call_id, seq))")
    await before.execute("INSERT INTO events VALUES ('CA1', 1), ('CA1', 2)")
    port = postgres.port

    await postgres.restart()

    assert postgres.port == port
    # the old connection is gone: what a store must notice and reconnect from
    with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, OSError)):
        await before.fetchval("SELECT 1")
    await before.close()
    after = await asyncpg.connect(pg_url)
    try:
        assert await after.fetch("SELECT seq FROM events ORDER BY seq") == [(1,), (2,)]
        await after.execute("INSERT INTO events VALUES ('CA1', 3)")
    finally:
        await after.close()


async def test_stop_refuses_connections_until_start(postgres: PostgresServer, pg_url: str) -> None:
    conn = await asyncpg.connect(pg_url)
    await conn.execute("CREATE TABLE t AS SELECT 7 AS v")
    await conn.close()

    await postgres.stop()
    assert not postgres.is_running
    with pytest.raises(OSError):  # ConnectionRefusedError: nothing listens on the port
        await asyncpg.connect(pg_url)
    await postgres.start()

    conn = await asyncpg.connect(pg_url)
    try:
        assert await conn.fetchval("SELECT v FROM t") == 7
    finally:
        await conn.close()


def _accepts(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_a_cluster_leaves_nothing_behind(postgres: PostgresServer) -> None:
    """A cluster of its own (not the session's): stopped and deleted when its block ends."""
    with PostgresServer.running(postgres.tools) as own:
        assert own.port != postgres.port
        assert _accepts(own.port)
        root = own.root
        assert (root / "data" / "PG_VERSION").is_file()
    assert not _accepts(own.port)
    assert not root.exists()
    assert _accepts(postgres.port)


def _fake_install(root: Path, version: str) -> Path:
    bindir = root / version / "bin"
    bindir.mkdir(parents=True)
    for tool in TOOLS:
        (bindir / tool).touch(mode=0o755)
    return bindir


def test_without_pg_config_the_newest_debian_version_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no pg_config
    with pytest.raises(PostgresMissingError):
        find_bindir(tmp_path)
    for version in ("9.6", "13"):
        _fake_install(tmp_path, version)
    (tmp_path / "16" / "bin").mkdir(parents=True)  # a client-only install: no server tools
    assert find_bindir(tmp_path) == tmp_path / "13" / "bin"
    assert version_key(Path("/usr/lib/postgresql/9.6/bin")) < (10,)


def test_missing_postgres_skips_locally_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """The conftest's `postgres` fixture hands PostgresMissingError to this rule."""
    monkeypatch.delenv("VOICECALL_RT_REQUIRE_TOOLS", raising=False)
    with pytest.raises(pytest.skip.Exception, match="PostgreSQL's server"):
        missing_tool(str(PostgresMissingError("PostgreSQL's server")), "on this machine")
    monkeypatch.setenv("VOICECALL_RT_REQUIRE_TOOLS", "1")
    with pytest.raises(pytest.fail.Exception, match=r"required .* but not on this machine"):
        missing_tool("PostgreSQL's server", "on this machine")
