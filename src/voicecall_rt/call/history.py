"""The conversation so far, as text, to give a renewed model session.

A Realtime session lasts at most 60 minutes and a socket can drop; a new session knows
nothing of the call. What it needs to carry on is replayed as conversation items: both
sides' words as text (the API cannot be given audio the assistant said), the system notes
that steered the model, and each tool call with its result. Instructions and tools are
not items: the renewed session gets the same `session.update` as the first.

Entries are kept in the order they were said (`t_ms`): a caller's words are often
transcribed after the model has begun answering them. Only what the callee heard of an
interrupted answer is kept. Past `MAX_REPLAY_CHARS` the oldest entries are folded into
one system note, so a long call's replay stays well inside the context window.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

# ~4 characters a token: about 6,000 tokens of a 32,768-token context.
MAX_REPLAY_CHARS = 24_000
_FOLDED_HEAD = "Earlier in this call (oldest first, shortened):"

Said = Literal["caller", "assistant", "system", "keypad"]
Kind = Literal["caller", "assistant", "system", "keypad", "call", "output"]


@dataclass(frozen=True, slots=True)
class Entry:
    t_ms: int
    kind: Kind
    text: str  # the words; for a tool call its arguments, for a result its output
    call_id: str = ""
    name: str = ""

    @property
    def size(self) -> int:
        return len(self.text) + len(self.name)


class History:
    """What has been said and done in the call, oldest first."""

    __slots__ = ("_entries", "_keys")

    def __init__(self) -> None:
        self._entries: list[Entry] = []
        self._keys: list[int] = []

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, entry: Entry) -> None:
        # After every entry with the same time: arrival order breaks ties.
        at = bisect.bisect_right(self._keys, entry.t_ms)
        self._keys.insert(at, entry.t_ms)
        self._entries.insert(at, entry)

    def said(self, t_ms: int, who: Said, text: str) -> None:
        if text.strip():
            self.add(Entry(t_ms, who, text.strip()))

    def tool_call(self, t_ms: int, call_id: str, name: str, arguments: str) -> None:
        self.add(Entry(t_ms, "call", arguments, call_id=call_id, name=name))

    def tool_output(self, t_ms: int, call_id: str, output: str) -> None:
        self.add(Entry(t_ms, "output", output, call_id=call_id))

    @property
    def entries(self) -> tuple[Entry, ...]:
        return tuple(self._entries)

    def awaiting_reply(self, *, extra: Iterable[Entry] = ()) -> bool:
        """Whether the last thing in the call (`extra`: entries not final yet) was for the
        model to answer."""
        for entry in reversed(sorted([*self._entries, *extra], key=_time)):
            if entry.kind == "system":
                continue
            return entry.kind in ("caller", "keypad", "output")
        return False

    def replay(
        self, max_chars: int = MAX_REPLAY_CHARS, *, extra: Iterable[Entry] = ()
    ) -> list[Entry]:
        """The entries that rebuild the conversation, oldest first, the oldest folded into
        one system note past `max_chars`; `extra` are entries not final yet (words still
        playing), put in their place. The model backend turns them into its own items."""
        entries = sorted([*self._entries, *extra], key=_time)  # stable: ties keep order
        kept: list[Entry] = []
        size = 0
        for entry in reversed(entries):
            if size + entry.size > max_chars and kept:
                break
            kept.append(entry)
            size += entry.size
        kept.reverse()
        older = entries[: len(entries) - len(kept)]
        # A tool result is only valid after its call: never keep one whose call was folded.
        kept_calls = {e.call_id for e in kept if e.kind == "call"}
        folded_outputs = [e for e in kept if e.kind == "output" and e.call_id not in kept_calls]
        replay: list[Entry] = []
        if older or folded_outputs:
            folded = _fold([*older, *folded_outputs], max_chars // 4)
            replay.append(Entry(kept[0].t_ms if kept else 0, "system", folded))
        for entry in kept:
            if entry.kind == "output" and entry.call_id not in kept_calls:
                continue
            replay.append(entry)
        return replay


def _time(entry: Entry) -> int:
    return entry.t_ms


def _fold(entries: list[Entry], max_chars: int) -> str:
    lines = [_FOLDED_HEAD]
    for entry in entries:
        if entry.kind == "call":
            lines.append(f"- you used {entry.name}({entry.text})")
        elif entry.kind == "output":
            lines.append(f"- a tool answered: {entry.text}")
        else:
            who = {"caller": "caller", "keypad": "caller", "assistant": "you"}.get(
                entry.kind, "note"
            )
            lines.append(f"- {who}: {entry.text}")
    text = "\n".join(lines)
    if len(text) > max_chars:
        # Keep the most recent of what was folded: it matters most to what comes next.
        text = _FOLDED_HEAD + "\n…" + text[len(text) - max_chars :]
    return text
