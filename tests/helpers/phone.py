"""Shared readers and recording hooks for the phone-craft integration tests, on any carrier:
our server's stream messages are read in each carrier's own shape (Plivo's playAudio,
checkpoint and clearAudio as Twilio's media, mark and clear), and hang-ups and webhooks are
watched on the carrier-neutral `SimCall`.

Two fakes run on one event loop, so "what did the carrier know when the model got X" is
answered exactly by a hook that runs the moment one fake records something: no clocks.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from voicecall_rt.audio import g711
from voicecall_rt.simulator.openai.session import FakeSession
from voicecall_rt.simulator.sim_call import SentWebhook, SimCall
from voicecall_rt.simulator.world import SimWorld

TO = "+14155550123"
TASK = "Get through the phone menu to billing and ask about invoice 12."


class HookedList(list[Any]):
    """A list that calls `hook(item)` right after each append (same task, nothing between)."""

    def __init__(self, items: list[Any], hook: Callable[[Any], None]) -> None:
        super().__init__(items)
        self._hook = hook

    def append(self, item: Any) -> None:
        super().append(item)
        self._hook(item)


def watch_model(
    world: SimWorld,
    received: Callable[[FakeSession, dict[str, Any]], None] | None = None,
    *,
    sent: Callable[[FakeSession, dict[str, Any]], None] | None = None,
) -> None:
    """Run `received(session, event)` as the fake model records each client event, and
    `sent(session, event)` as it records each server event it sent."""

    def on_session(session: FakeSession) -> None:
        if received is not None:
            session.received = HookedList(session.received, lambda e: received(session, e))
        if sent is not None:
            session.sent = HookedList(session.sent, lambda e: sent(session, e))

    class _Sessions(list[FakeSession]):
        def append(self, session: FakeSession) -> None:
            on_session(session)  # the session has sent and received nothing yet
            super().append(session)

    world.model.sessions = _Sessions(world.model.sessions)


class _Calls(dict[str, SimCall]):
    """The fake carrier's calls, running each hook on a call as the fake registers it."""

    hooks: list[Callable[[SimCall], None]]

    def __setitem__(self, sid: str, call: SimCall) -> None:
        for hook in self.hooks:
            hook(call)
        super().__setitem__(sid, call)


def on_new_call(world: SimWorld, hook: Callable[[SimCall], None]) -> None:
    """Run `hook(call)` as the fake carrier registers each new call (hooks add up)."""
    calls = world.carrier.calls
    if not isinstance(calls, _Calls):
        calls = _Calls(calls)
        calls.hooks = []
        world.carrier.calls = calls  # type: ignore[misc]  # every fake's is a plain attribute
    calls.hooks.append(hook)


def watch_carrier(world: SimWorld, hook: Callable[[SimCall, dict[str, Any]], None]) -> None:
    """Run `hook(call, message)` as the fake carrier records each message our server sent on
    a media stream (before the carrier acts on it)."""

    def on_call(call: SimCall) -> None:
        call.received = HookedList(call.received, lambda m: hook(call, m))

    on_new_call(world, on_call)


def watch_hang_ups(world: SimWorld, hook: Callable[[SimCall], None]) -> None:
    """Run `hook(call)` as a REST hang-up from our server reaches a call (before the
    carrier's teardown has run), on any carrier."""

    def on_call(call: SimCall) -> None:
        call.rest_hang_ups = HookedList(call.rest_hang_ups, lambda _: hook(call))

    on_new_call(world, on_call)


def watch_webhooks(world: SimWorld, hook: Callable[[SimCall, SentWebhook], None]) -> None:
    """Run `hook(call, webhook)` as the fake carrier records each webhook it delivered to
    our server (our answer received), on any carrier."""

    def on_call(call: SimCall) -> None:
        call.webhooks = HookedList(call.webhooks, lambda w: hook(call, w))

    on_new_call(world, on_call)


# ---- the carrier side ----------------------------------------------------------------------


# Each carrier's names for our three stream messages (Plivo's own; the others Twilio's).
_KINDS: dict[str, str] = {
    "media": "media",
    "mark": "mark",
    "clear": "clear",
    "playAudio": "media",
    "checkpoint": "mark",
    "clearAudio": "clear",
}


def kind(message: dict[str, Any]) -> str:
    """media, mark or clear whatever the carrier calls them (others keep their own name)."""
    event = str(message.get("event"))
    return _KINDS.get(event, event)


def payload_bytes(message: dict[str, Any]) -> bytes:
    """The audio of a media message (Twilio's `media` and Plivo's `playAudio` alike)."""
    return base64.b64decode(message["media"]["payload"])


def media_bytes(sim: SimCall) -> int:
    """Bytes of model audio our server sent the carrier."""
    return sum(len(payload_bytes(m)) for m in sim.received if kind(m) == "media")


def events(sim: SimCall, of_kind: str) -> list[int]:
    """Indexes in `sim.received` of the messages of one kind (media, mark, clear)."""
    return [i for i, m in enumerate(sim.received) if kind(m) == of_kind]


def mark_name(message: dict[str, Any]) -> str:
    """A mark's name: Twilio's `mark.name`, Plivo's checkpoint `name` at the top level."""
    name: str = message["mark"]["name"] if "mark" in message else message["name"]
    return name


def media_owner(sim: SimCall, index: int) -> str | None:
    """The name of the first mark after the media message at `index` (the mark that tells
    when that audio has played), or None if no mark follows it."""
    for message in sim.received[index + 1 :]:
        if kind(message) == "mark":
            return mark_name(message)
    return None


def media_runs(sim: SimCall) -> list[tuple[str | None, bytes]]:
    """Our server's audio in send order, grouped by the mark sent right after it."""
    runs: list[tuple[str | None, bytes]] = []
    pending = bytearray()
    for message in sim.received:
        if kind(message) == "media":
            pending += payload_bytes(message)
        elif kind(message) == "mark" and pending:
            runs.append((mark_name(message), bytes(pending)))
            pending = bytearray()
    if pending:
        runs.append((None, bytes(pending)))
    return runs


def is_item_mark(name: str | None, item_id: str) -> bool:
    return name is not None and name.startswith(item_id + ":")


def is_dtmf_mark(name: str | None) -> bool:
    return name is not None and name.startswith("dtmf-")


def loud_runs(audio: bytes, threshold: int = 2000) -> list[tuple[int, int]]:
    """(start, end) sample offsets of the stretches whose decoded level is above
    `threshold`, allowing the zero crossings inside a tone (gaps under 2 ms are bridged)."""
    samples = g711.decode(audio)
    runs: list[tuple[int, int]] = []
    start: int | None = None
    last = -1
    for n, value in enumerate(samples):
        if abs(value) < threshold:
            continue
        if start is None:
            start = n
        elif n - last > 16:
            runs.append((start, last + 1))
            start = n
        last = n
    if start is not None:
        runs.append((start, last + 1))
    return runs


# ---- the model side ------------------------------------------------------------------------


def appends(session: FakeSession) -> list[str]:
    """The caller audio our server forwarded to the model, one base64 frame an append."""
    return [e["audio"] for e in session.received if e["type"] == "input_audio_buffer.append"]


async def wait_closed(world: SimWorld, session: FakeSession) -> None:
    await world.model.wait_for(session.closed.is_set, timeout=5)


def function_outputs(session: FakeSession) -> list[tuple[int, dict[str, Any]]]:
    """(index in received, item) of each function_call_output the model got."""
    return [
        (i, e["item"])
        for i, e in enumerate(session.received)
        if e["type"] == "conversation.item.create"
        and e["item"].get("type") == "function_call_output"
    ]


def item_creates(session: FakeSession, kind: str, role: str | None = None) -> list[int]:
    """Indexes in `session.received` of the conversation.item.create events for that kind
    of item (and role, for messages)."""
    found = []
    for i, event in enumerate(session.received):
        if event.get("type") != "conversation.item.create":
            continue
        item = event["item"]
        if item.get("type") == kind and (role is None or item.get("role") == role):
            found.append(i)
    return found


def item_text(event: dict[str, Any]) -> str:
    return " ".join(str(part.get("text", "")) for part in event["item"].get("content") or [])


def system_notes(session: FakeSession) -> list[tuple[int, str]]:
    return [(i, item_text(session.received[i])) for i in item_creates(session, "message", "system")]


def tool_names(session: FakeSession) -> dict[str, str]:
    """call_id → tool name, from the function calls the model made."""
    return {
        e["call_id"]: e["name"]
        for e in session.sent
        if e["type"] == "response.function_call_arguments.done"
    }


def assistant_items(session: FakeSession) -> list[str]:
    """Ids of the assistant message items the model produced, in order."""
    return [
        e["item"]["id"]
        for e in session.sent
        if e["type"] == "response.output_item.added"
        and e["item"]["type"] == "message"
        and e["item"]["role"] == "assistant"
    ]


def event_kinds(data: dict[str, Any]) -> list[str]:
    return [e["kind"] for e in data["events"]]


def assert_goodbye_played(data: dict[str, Any], sim: SimCall, said: list[str]) -> None:
    """The call (`data` as the API gives it) heard the model say `said`, its goodbye last,
    which played out before the carrier was told to hang up."""
    assert sim.rest_hang_ups == ["completed"]  # hung up at the carrier
    lines = [line["text"] for line in data["transcript"] if line["role"] == "assistant"]
    assert lines == said
    goodbye = next(line for line in data["transcript"] if line["text"] == said[-1])
    assert goodbye["interrupted"] is False  # it played out before the hang-up
