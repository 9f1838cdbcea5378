"""The store's one exception."""

from __future__ import annotations


class StoreError(RuntimeError):
    """The store is closed, its writer is gone, or the database is unusable."""
