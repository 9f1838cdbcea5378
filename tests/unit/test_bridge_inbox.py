"""The bridge's model inbox is bounded: past a mark the model's socket is not read.

Model messages are handed over by a socket callback (model/link.py); whatever the model
task has not handled yet waits in the inbox. A stalled task must push back on the model
through TCP, not grow a queue without end (DESIGN §4: bounded buffers everywhere).
"""

from __future__ import annotations

from pathlib import Path

from tests.helpers.records import make_call
from voicecall_rt.call.bridge import INBOX_HIGH, INBOX_LOW, CallBridge
from voicecall_rt.call.journal import CallJournal, Hub
from voicecall_rt.config import Settings
from voicecall_rt.store import Store


class _Link:
    """Stands in for ModelLink: records what the bridge asks of the socket."""

    closed = False

    def __init__(self) -> None:
        self.calls: list[str] = []

    def pause_reading(self) -> None:
        self.calls.append("pause")

    def resume_reading(self) -> None:
        self.calls.append("resume")


async def _noop(bridge: CallBridge) -> None:
    return None


async def test_inbox_pauses_the_socket_at_the_high_mark_and_resumes_at_the_low(
    tmp_path: Path,
) -> None:
    store = await Store.open(tmp_path)
    try:
        store.insert_call(make_call("call-1"))
        journal = CallJournal(store, Hub(), "call-1", 0)
        bridge = CallBridge(
            call_id="call-1",
            direction="inbound",
            settings=Settings(),
            journal=journal,
            instructions="be brief",
            hang_up=_noop,
            on_end=lambda bridge: None,
        )
        link = _Link()
        bridge._model = link  # type: ignore[assignment]
        # The model task has not opened the session yet: everything waits in the inbox.
        for i in range(INBOX_HIGH + 100):
            bridge._on_model_text(b'{"type":"response.output_audio_transcript.delta","n":%d}' % i)
        assert link.calls == ["pause"]  # once, at the mark, not once per message

        taken = []
        while len(taken) < INBOX_HIGH + 100:
            item = await bridge._next_model_message()
            assert isinstance(item, bytes)
            taken.append(item)
            waiting = INBOX_HIGH + 100 - len(taken)
            assert link.calls == (["pause"] if waiting > INBOX_LOW else ["pause", "resume"])
        # In order, nothing lost.
        assert taken[0].endswith(b'"n":0}') and taken[-1].endswith(b'"n":%d}' % (INBOX_HIGH + 99))
        await store.flush()
        paused = await store.events("call-1", kinds={"model.paused"})
        assert [e.data for e in paused] == [{"waiting": INBOX_HIGH}]
    finally:
        await store.close()
