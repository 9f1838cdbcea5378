"""The cluster the settings call for: several instances when the store is PostgreSQL."""

from __future__ import annotations

import secrets
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

from voicecall_rt.call.journal import Hub
from voicecall_rt.cluster.base import Cluster
from voicecall_rt.cluster.single import SingleInstance
from voicecall_rt.config import Settings
from voicecall_rt.store.base import Store

if TYPE_CHECKING:
    from voicecall_rt.cluster.feed import RemoteFeed


def default_instance_id() -> str:
    """The host's name and a random suffix: unique among instances, readable in logs."""
    host = "".join(c if c.isalnum() or c in "-." else "-" for c in socket.gethostname())
    return f"{host[:40] or 'instance'}-{secrets.token_hex(3)}"


def build_cluster(settings: Settings, store: Store) -> Cluster:
    instance_id = settings.server.instance_id or default_instance_id()
    from voicecall_rt.store.postgres.database import PostgresStore

    if isinstance(store, PostgresStore):
        from voicecall_rt.cluster.postgres import PostgresCluster

        assert settings.public_url is not None
        return PostgresCluster(
            store, instance_id, settings.public_url, settings.server.lease_seconds
        )
    return SingleInstance(store, instance_id)


def build_feed(store: Store, hub: Hub, is_local: Callable[[str], bool]) -> RemoteFeed | None:
    """The live feed of other instances' calls; None when this instance is alone."""
    from voicecall_rt.store.postgres.database import PostgresStore

    if not isinstance(store, PostgresStore):
        return None
    from voicecall_rt.cluster.feed import RemoteFeed

    return RemoteFeed(store, hub, is_local)
