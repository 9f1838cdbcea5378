"""Opening a store, on both backends: the schema at this program's version with its
tables, a reopen that finds what was written, a second store beside the first (what
`voicecall-rt calls` does while the server runs), and a newer schema refused."""

from __future__ import annotations

import pytest

from tests.helpers.records import make_call
from tests.helpers.store_backends import StoreBackend
from voicecall_rt.call.records import CallStatus
from voicecall_rt.store.errors import StoreError


async def test_schema_version_tables_and_reopen(store_backend: StoreBackend) -> None:
    s = await store_backend.open()
    s.insert_call(make_call("c"))
    s.add_transcript("c", 0, "caller", "hello")
    s.add_event("c", 0, "k")
    await s.close()
    assert await store_backend.schema_version_stored() == store_backend.schema_version
    for table in ("calls", "transcript", "events"):
        assert await store_backend.sql(f"SELECT COUNT(*) FROM {table}") == [(1,)], table

    s = await store_backend.open()
    try:
        assert await s.get_call("c") == make_call("c")
        assert [x.text for x in await s.transcript("c")] == ["hello"]
    finally:
        await s.close()
    # Opening an up-to-date database changes nothing.
    assert await store_backend.schema_version_stored() == store_backend.schema_version


async def test_second_store_beside_the_writer(store_backend: StoreBackend) -> None:
    server = await store_backend.open()
    try:
        server.insert_call(make_call("c", status=CallStatus.IN_PROGRESS))
        server.add_event("c", 0, "k")
        await server.flush()
        cli = await store_backend.open()
        try:
            assert [c.id for c in await cli.list_calls()] == ["c"]
            assert len(await cli.events("c")) == 1
        finally:
            await cli.close()
        assert server.add_event("c", 1, "k") == 2
        assert [e.seq for e in await server.events("c")] == [1, 2]
    finally:
        await server.close()


async def test_newer_schema_is_refused(store_backend: StoreBackend) -> None:
    s = await store_backend.open()
    s.insert_call(make_call("c"))
    await s.close()
    await store_backend.set_schema_version(store_backend.schema_version + 1)
    with pytest.raises(StoreError, match="newer"):
        await store_backend.open()
    # Refused untouched: the version and the call are as they were.
    assert await store_backend.schema_version_stored() == store_backend.schema_version + 1
    assert await store_backend.sql("SELECT id FROM calls") == [("c",)]
