"""Playback accounting: how much of each model item was generated and actually heard.

After every audio delta we send the carrier a `mark` named `<item_id>:<end_byte>`; the
carrier echoes it once everything before it has played. µ-law is 8 bytes per ms, so the
latest echoed offset is the item's played time, with no clock and no table. After a
`clear` the carrier echoes every pending mark at once although nothing more was heard,
so a cut item stops listening to its marks.
"""

from __future__ import annotations

BYTES_PER_MS = 8


def b64_decoded_len(payload: str) -> int:
    """Bytes a base64 string decodes to, without decoding it (padded or unpadded)."""
    n = len(payload)
    if n == 0:
        return 0
    padding = 2 if payload.endswith("==") else 1 if payload.endswith("=") else 0
    # An unpadded tail of 2 or 3 characters carries 1 or 2 bytes.
    return n // 4 * 3 - padding + n % 4 * 3 // 4


class Playback:
    """Per-call ledger of generated vs played bytes, keyed by assistant item."""

    __slots__ = ("_cut", "_generated", "_pending", "_played", "current_item", "pending_marks")

    def __init__(self) -> None:
        self._generated: dict[str, int] = {}
        self._played: dict[str, int] = {}
        self._pending: dict[str, int] = {}  # per item: marks sent, not yet echoed
        self._cut: set[str] = set()
        self.current_item: str | None = None
        self.pending_marks = 0  # all items: audio still queued at the carrier

    def on_delta(self, item_id: str, payload: str) -> str:
        """Account one delta; returns the mark name to send after it."""
        end = self._generated.get(item_id, 0) + b64_decoded_len(payload)
        self._generated[item_id] = end
        self.current_item = item_id
        self._pending[item_id] = self._pending.get(item_id, 0) + 1
        self.pending_marks += 1
        return f"{item_id}:{end}"

    def on_mark(self, name: str) -> tuple[str, int] | None:
        """A mark echoed; returns `(item_id, end_byte)` if it is a model-audio mark.

        Names from `on_delta` only count once each; a cut item's echoes count for nothing.
        """
        item_id, _, offset = name.rpartition(":")
        if not offset.isdigit():
            return None
        played = int(offset)
        pending = self._pending.get(item_id)
        if pending and item_id not in self._cut:
            self._pending[item_id] = pending - 1
            self.pending_marks -= 1
            if played > self._played.get(item_id, 0):
                self._played[item_id] = played
        return item_id, played

    def is_cut(self, item_id: str) -> bool:
        return item_id in self._cut

    def pending_for(self, item_id: str) -> int:
        return self._pending.get(item_id, 0)

    @property
    def audio_queued(self) -> bool:
        return self.pending_marks > 0

    def generated_ms(self, item_id: str) -> int:
        return self._generated.get(item_id, 0) // BYTES_PER_MS

    def played_ms(self, item_id: str) -> int:
        return min(self._played.get(item_id, 0), self._generated.get(item_id, 0)) // BYTES_PER_MS

    def cut_queued(self) -> list[tuple[str, int]]:
        """A carrier `clear` drops every queued item: stop each where the listener is.

        Returns `(item_id, audio_end_ms)` for each item that had audio still queued.
        """
        cut = []
        for item_id, pending in list(self._pending.items()):
            if pending:
                self._cut.add(item_id)
                cut.append((item_id, self.played_ms(item_id)))
        self._pending.clear()
        self.pending_marks = 0
        return cut
