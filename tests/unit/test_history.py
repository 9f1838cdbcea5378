"""The conversation replayed into a renewed model session (call/history.py, and the items
model/realtime.py makes of it)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from openai.types.realtime import RealtimeClientEvent
from pydantic import TypeAdapter

from voicecall_rt.call.history import MAX_REPLAY_CHARS, Entry, History
from voicecall_rt.model.realtime import replay_item

_CLIENT_EVENT: TypeAdapter[Any] = TypeAdapter(RealtimeClientEvent)


def _items(entries: list[Entry]) -> list[dict[str, Any]]:
    """The replay as OpenAI's backend sends it."""
    events = [replay_item(entry) for entry in entries]
    for event in events:
        _CLIENT_EVENT.validate_python(event)  # every replayed event is a valid client event
        assert event["type"] == "conversation.item.create"
    return [event["item"] for event in events]


def test_replay_is_in_the_order_things_were_said() -> None:
    history = History()
    history.said(100, "system", "Answer the phone now.")
    history.said(900, "assistant", "Tony's Pizza, how can I help?")
    # The caller's words were said at 2000 but transcribed after the reply began (3100).
    history.said(3100, "assistant", "Sure, for how many?")
    history.said(2000, "caller", "A table for Friday, please.")
    items = _items(history.replay())
    texts = [item["content"][0]["text"] for item in items]
    assert texts == [
        "Answer the phone now.",
        "Tony's Pizza, how can I help?",
        "A table for Friday, please.",
        "Sure, for how many?",
    ]
    roles = [item["role"] for item in items]
    assert roles == ["system", "assistant", "user", "assistant"]
    # The API cannot be given assistant audio: the model's words go back as output_text.
    assert items[1]["content"][0]["type"] == "output_text"
    assert items[2]["content"][0]["type"] == "input_text"


def test_tool_calls_and_results_are_replayed_in_pairs() -> None:
    history = History()
    history.said(0, "caller", "Press one for reservations.")
    history.tool_call(10, "call_1", "send_dtmf", '{"digits":"1"}')
    history.tool_output(500, "call_1", '{"ok":true,"pressed":"1"}')
    history.said(600, "keypad", "[caller pressed 5]")
    items = _items(history.replay())
    assert [item["type"] for item in items] == [
        "message",
        "function_call",
        "function_call_output",
        "message",
    ]
    assert items[1] == {
        "type": "function_call",
        "call_id": "call_1",
        "name": "send_dtmf",
        "arguments": '{"digits":"1"}',
    }
    assert items[2]["call_id"] == "call_1"
    assert orjson.loads(items[2]["output"]) == {"ok": True, "pressed": "1"}
    assert items[3]["role"] == "user"


def test_blank_lines_are_not_kept() -> None:
    history = History()
    history.said(0, "caller", "   ")
    assert len(history) == 0
    assert history.replay() == []


@pytest.mark.parametrize(
    ("last", "awaiting"),
    [("caller", True), ("keypad", True), ("assistant", False)],
)
def test_awaiting_reply(last: str, awaiting: bool) -> None:
    history = History()
    history.said(0, "assistant", "Hello?")
    history.said(10, last, "something")  # type: ignore[arg-type]
    history.said(20, "system", "a note never needs an answer of its own")
    assert history.awaiting_reply() is awaiting


def test_a_tool_result_awaits_a_reply() -> None:
    history = History()
    history.tool_call(0, "c1", "report_outcome", "{}")
    history.tool_output(1, "c1", '{"ok":true}')
    assert history.awaiting_reply()


def test_a_long_call_is_folded_to_fit() -> None:
    history = History()
    for i in range(400):
        history.said(i * 1000, "caller" if i % 2 else "assistant", f"line {i} " + "x" * 200)
    events = history.replay()
    items = _items(events)
    size = sum(len(item["content"][0]["text"]) for item in items)
    # The words fit the budget, plus the fold note (a quarter of it at most, and a head).
    assert size <= MAX_REPLAY_CHARS + MAX_REPLAY_CHARS // 4 + 100
    assert items[0]["role"] == "system"
    folded = items[0]["content"][0]["text"]
    assert folded.startswith("Earlier in this call")
    # The newest lines are kept whole, in order, ending with the last thing said.
    assert items[-1]["content"][0]["text"].startswith("line 399 ")
    numbers = [int(item["content"][0]["text"].split()[1]) for item in items[1:]]
    assert numbers == sorted(numbers)
    assert numbers[-1] == 399


def test_a_result_whose_call_was_folded_is_not_replayed_alone() -> None:
    history = History()
    history.tool_call(0, "c1", "report_outcome", '{"summary":"' + "y" * 300 + '"}')
    history.tool_output(1, "c1", '{"ok":true}')
    history.said(2, "caller", "z" * 500)
    items = _items(history.replay(max_chars=520))
    # A function_call_output without its function_call would be refused by the API.
    assert all(item["type"] == "message" for item in items)
    assert "a tool answered" in items[0]["content"][0]["text"]
