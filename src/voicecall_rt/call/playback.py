"""Playback accounting: how much of each model item was generated and actually heard.

After every audio delta we send the carrier a `mark` named `<item_id>:<end_byte>`; the
carrier echoes it once everything before it has played. Echoes alone lag what was heard by
up to one delta (~100 ms), so between echoes we count at real time: the carrier plays its
queue back to back at 8 bytes per ms, so the audio right after the last echoed mark began
playing at that echo, or, if the queue had run dry before it came, once it reached the
carrier. We are never beyond the next mark not yet echoed (the carrier would have echoed
it) nor beyond what was generated. No extra marks go on the wire: one per delta is all this
needs.

Audio sent is not audio played. Audio that finds the carrier idle (the first of an answer,
or after a gap) has the way to the carrier ahead of it, then waits for the carrier's next
20 ms frame; no echo says when it began until its mark's. The way there is about the way our
`clear` takes to stop it, during which the callee still hears: the two cancel. The frame
wait does not: it is half a frame on average, so such audio is taken to begin half a frame
after we sent it. Counting from the send instead over-counts by that wait, and a truncation
then claims words the callee never heard.

After a `clear` the carrier echoes every pending mark at once although nothing more was
heard, so a cut item stops listening to its marks and keeps the estimate taken at the cut.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

BYTES_PER_MS = 8
_BYTES_PER_S = BYTES_PER_MS * 1000
# Audio that reaches an idle carrier waits for its next 20 ms frame: half a frame on average.
_IDLE_START_S = 0.010


def b64_decoded_len(payload: str) -> int:
    """Bytes a base64 string decodes to, without decoding it (padded or unpadded)."""
    n = len(payload)
    if n == 0:
        return 0
    padding = 2 if payload.endswith("==") else 1 if payload.endswith("=") else 0
    # An unpadded tail of 2 or 3 characters carries 1 or 2 bytes.
    return n // 4 * 3 - padding + n % 4 * 3 // 4


# One mark sent and not yet echoed, in carrier order: (item id, first byte, end byte, sent
# at). Audio that is not the model's (keypad tones) has the mark's name as its id and a
# first byte of -1: it holds back what follows without counting towards any item.
_Entry = tuple[str, int, int, float]
_OTHER = -1


class Playback:
    """Per-call ledger of generated vs heard bytes, keyed by assistant item.

    `clock` returns seconds on a monotonic scale; it is read once per delta, once per echo
    and whenever the heard position is asked for.
    """

    __slots__ = (
        "_clock",
        "_cut",
        "_echoed_at",
        "_generated",
        "_others",
        "_pending",
        "_played",
        "_queue",
        "current_item",
        "pending_marks",
    )

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._generated: dict[str, int] = {}
        self._played: dict[str, int] = {}  # per item: confirmed by echoes, or frozen at a cut
        self._pending: dict[str, int] = {}  # per item: marks sent, not yet echoed
        self._queue: deque[_Entry] = deque()
        self._others: set[str] = set()  # names of non-model marks in `_queue`
        # When the carrier last finished everything before `_queue[0]`; before any echo it
        # had nothing queued, so the head started once it had reached the carrier.
        self._echoed_at = -math.inf
        self._cut: set[str] = set()
        self.current_item: str | None = None
        self.pending_marks = 0  # all items: audio still queued at the carrier

    def on_delta(self, item_id: str, payload: str) -> str:
        """Account one delta; returns the mark name to send after it.

        Must not be called for a cut item (its audio is dropped before it gets here)."""
        start = self._generated.get(item_id, 0)
        end = start + b64_decoded_len(payload)
        self._generated[item_id] = end
        self.current_item = item_id
        self._pending[item_id] = self._pending.get(item_id, 0) + 1
        self.pending_marks += 1
        self._queue.append((item_id, start, end, self._clock()))
        return f"{item_id}:{end}"

    def on_other_audio(self, mark: str) -> None:
        """Audio not from the model (keypad tones) was queued, followed by `mark`.

        Model audio queued behind it starts only when `mark` comes back to `on_mark`."""
        self._queue.append((mark, _OTHER, _OTHER, self._clock()))
        self._others.add(mark)

    def on_mark(self, name: str) -> tuple[str, int] | None:
        """A mark echoed; returns `(item_id, end_byte)` if it is a model-audio mark.

        The carrier plays in order, so an echo also confirms every mark sent before it.
        Each sent mark counts once; a cut item's echoes count for nothing.
        """
        if name in self._others:
            self._reached(self._index_of_other(name))
            return None
        item_id, _, offset = name.rpartition(":")
        if not offset.isdigit():
            return None
        reached = int(offset)
        if self._pending.get(item_id) and item_id not in self._cut:
            self._reached(self._index_of(item_id, reached))
        return item_id, reached

    def _index_of(self, item_id: str, reached: int) -> int:
        """Index in `_queue` of the last of the item's marks at or before `reached`, or -1.

        In order the match is the head, so this is O(1) on every echo that matters."""
        found = -1
        for i, (item, start, end, _) in enumerate(self._queue):
            if item == item_id and start != _OTHER:
                if end > reached:
                    break
                found = i
                if end == reached:
                    break
        return found

    def _index_of_other(self, name: str) -> int:
        for i, (item, start, _, _) in enumerate(self._queue):
            if start == _OTHER and item == name:
                return i
        return -1

    def _reached(self, index: int) -> None:
        if index < 0:
            return
        self._echoed_at = self._clock()
        queue, pending, played = self._queue, self._pending, self._played
        for _ in range(index + 1):
            item, start, end, _ = queue.popleft()
            if start == _OTHER:
                self._others.discard(item)
                continue
            left = pending[item] - 1
            if left:
                pending[item] = left
            else:
                del pending[item]
            self.pending_marks -= 1
            if end > played.get(item, 0):
                played[item] = end

    def _heard(self, item_id: str, now: float) -> int:
        """Bytes of the item heard by `now`: confirmed, plus real time into the next mark."""
        heard = self._played.get(item_id, 0)
        if self._queue and item_id not in self._cut:
            item, start, end, sent = self._queue[0]
            if item == item_id and start != _OTHER:
                # It follows the last echo, unless the carrier ran dry and waited for it.
                began = max(self._echoed_at, sent + _IDLE_START_S)
                if now > began:  # rounded: clock noise must not lose a byte at a boundary
                    heard = max(heard, min(end, start + round((now - began) * _BYTES_PER_S)))
        return min(heard, self._generated.get(item_id, 0))

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
        """What the callee has heard of the item by now (at the cut, for a cut item)."""
        return self._heard(item_id, self._clock()) // BYTES_PER_MS

    def cut_queued(self) -> list[tuple[str, int]]:
        """A carrier `clear` drops every queued item: stop each where the listener is.

        Returns `(item_id, audio_end_ms)` for each item that had audio still queued.
        """
        now = self._clock()
        cut = []
        for item_id in list(self._pending):
            heard = self._heard(item_id, now)
            self._played[item_id] = heard
            self._cut.add(item_id)
            cut.append((item_id, heard // BYTES_PER_MS))
        self._pending.clear()
        self._queue.clear()
        self._others.clear()
        self.pending_marks = 0
        # The carrier's queue is empty now: whatever comes next starts when it arrives.
        self._echoed_at = now
        return cut
