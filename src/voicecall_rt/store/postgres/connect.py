"""Connections to PostgreSQL, the errors that mean "the database is not there", and the
URL as it may be shown (never with its password)."""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import unquote, urlsplit, urlunsplit

import asyncpg

APPLICATION_NAME: Final = "voicecall-rt"
CONNECT_TIMEOUT_S: Final = 10.0

# What a lost, refused or restarting server raises; anything else from asyncpg is the
# database refusing a statement.
CONNECTION_LOST: Final[tuple[type[BaseException], ...]] = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,  # "connection is closed", a pool being closed
    asyncpg.PostgresConnectionError,  # class 08
    asyncpg.exceptions.OperatorInterventionError,  # class 57: shutdown, starting up
)


def masked_url(url: str) -> str:
    """`url` with any password (in its user part or a `password=` parameter, which
    asyncpg reads too) replaced by `***`: what logs and errors may show."""
    parts = urlsplit(url)
    if parts.password is not None:
        netloc = parts.netloc.rsplit("@", 1)[1]
        user = parts.username or ""
        parts = parts._replace(netloc=f"{user}:***@{netloc}")
    if parts.query:
        pairs = parts.query.split("&")
        parts = parts._replace(
            query="&".join(
                "password=***" if unquote(p.split("=", 1)[0]) == "password" else p for p in pairs
            )
        )
    return urlunsplit(parts)


async def connect(url: str) -> Any:
    """One connection (asyncpg has no type hints: `Any` is its `Connection`)."""
    return await asyncpg.connect(
        url,
        timeout=CONNECT_TIMEOUT_S,
        server_settings={"application_name": APPLICATION_NAME},
    )


async def create_pool(url: str, *, max_size: int = 4) -> Any:
    return await asyncpg.create_pool(
        url,
        min_size=1,
        max_size=max_size,
        timeout=CONNECT_TIMEOUT_S,
        server_settings={"application_name": APPLICATION_NAME},
    )
