"""The cluster the settings call for: several instances when the store is PostgreSQL."""

from __future__ import annotations

import secrets
import socket

from voicecall_rt.cluster.base import Cluster
from voicecall_rt.cluster.single import SingleInstance
from voicecall_rt.config import Settings
from voicecall_rt.store.base import Store


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
