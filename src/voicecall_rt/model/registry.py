"""Which model backend a call uses. One backend today, OpenAI's Realtime API over a
WebSocket; another is one more entry here and its own files (docs/design.md §3)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from voicecall_rt.config import Settings
from voicecall_rt.model.base import ModelBackend, ModelTap
from voicecall_rt.model.realtime_session import RealtimeBackend


def open_backend(
    settings: Settings,
    instructions: str,
    tools: Sequence[dict[str, Any]],
    *,
    tap: ModelTap | None,
    on_cost: Callable[[int], None],
) -> ModelBackend:
    """The backend for one call, configured with its instructions and tool declarations
    (every session of the call gets the same). `tap` sees the model side for a debug
    recording; `on_cost` gets the relay's sampled cost per delta (ns)."""
    return RealtimeBackend(settings, instructions, tools, tap=tap, on_cost=on_cost)
