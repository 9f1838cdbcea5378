"""The call's transcript as the callee heard it, each line dated when it was said.

The caller's words are often transcribed after the reply has begun: a caller line is dated
when the caller began speaking. A model line is dated when the callee began hearing it, and
holds only what was heard of it when the caller cut in (docs/design.md §5). Every line also
goes into the history a renewed model session is given (call/history.py).
"""

from __future__ import annotations

from voicecall_rt.call.history import Entry, History
from voicecall_rt.call.journal import CallJournal
from voicecall_rt.call.playback import Playback


class Transcript:
    __slots__ = ("_assistant", "_history", "_journal", "_playback", "heard_at", "started_at")

    def __init__(self, journal: CallJournal, history: History, playback: Playback) -> None:
        self._journal = journal
        self._history = history
        self._playback = playback
        self.started_at: dict[str, int] = {}  # caller: speech start; model: first delta
        self.heard_at: dict[str, int] = {}  # model items: when the callee began hearing them
        self._assistant: dict[str, tuple[int, str]] = {}  # model text waiting to be heard

    def began(self, item_id: str, t_ms: int) -> None:
        self.started_at[item_id] = t_ms

    def caller_said(self, item_id: str | None, text: str) -> None:
        started = self.started_at.pop(str(item_id), None)
        t_ms = self._journal.t_ms() if started is None else started
        self._journal.line("caller", text.strip(), t_ms=t_ms)
        self._history.said(t_ms, "caller", text)

    def caller_inaudible(self, item_id: str | None) -> None:
        """Speech the transcriber could not make out: the line is kept, as "(inaudible)"."""
        started = self.started_at.pop(str(item_id), None)
        t_ms = self._journal.t_ms() if started is None else started
        self._journal.line("caller", "(inaudible)", t_ms=t_ms)

    def model_said(self, item_id: str, text: str) -> None:
        """The model's words for an item: written once the callee has heard them."""
        self._assistant[item_id] = (self._journal.t_ms(), text)
        if self._playback.is_cut(item_id) or not self._playback.pending_for(item_id):
            self.finish(item_id)

    def played(self, item_id: str, played_ms: int) -> None:
        """A mark of the item came back: `played_ms` of it have played."""
        if item_id not in self.heard_at and not self._playback.is_cut(item_id):
            # The first echo comes when the first delta has played: it began that long ago.
            self.heard_at[item_id] = self._journal.t_ms() - played_ms
        if item_id in self._assistant and not self._playback.pending_for(item_id):
            self.finish(item_id)

    def finish(self, item_id: str) -> None:
        """Write what the caller actually heard of an item (all of it, or up to the cut)."""
        entry = self._assistant.pop(item_id, None)
        if entry is None:
            return
        written, text = entry
        started = self.heard_at.get(item_id, self.started_at.get(item_id, written))
        generated = self._playback.generated_ms(item_id)
        played = self._playback.played_ms(item_id)
        interrupted = self._playback.is_cut(item_id) or (generated > 0 and played < generated)
        if interrupted and generated:
            heard = text[: round(len(text) * played / generated)].rstrip()
            text = (heard + " —") if heard else "—"
        if text.strip():
            self._journal.line("assistant", text.strip(), t_ms=started, interrupted=interrupted)
            self._history.said(started, "assistant", text)

    def finish_all(self) -> None:
        for item_id in list(self._assistant):
            self.finish(item_id)

    def still_playing(self) -> list[Entry]:
        """Model words still playing, as they will be heard in full (a cut line is written
        at once): what a renewed session must know was said."""
        return [
            Entry(self.heard_at.get(item_id, self.started_at.get(item_id, t)), "assistant", text)
            for item_id, (t, text) in self._assistant.items()
            if text.strip() and not self._playback.is_cut(item_id)
        ]
