"""Calls: the per-call bridge, its tools and playback ledger, the registry that owns them."""
