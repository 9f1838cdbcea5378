"""Shared readers and recording hooks for the phone-craft integration tests.

Two fakes run on one event loop, so "what did the carrier know when the model got X" is
answered exactly by a hook that runs the moment one fake records something: no clocks.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from voicecall_rt.audio import g711
from voicecall_rt.simulator.openai.session import FakeSession
from voicecall_rt.simulator.sim_call import SimCall
from voicecall_rt.simulator.twilio.rest import CallUpdate
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


def watch_carrier(world: SimWorld, hook: Callable[[SimCall, dict[str, Any]], None]) -> None:
    """Run `hook(call, message)` as the fake carrier records each message our server sent on
    a media stream (before the carrier acts on it)."""

    class _Calls(dict[str, SimCall]):
        def __setitem__(self, sid: str, call: SimCall) -> None:
            call.received = HookedList(call.received, lambda m: hook(call, m))
            super().__setitem__(sid, call)

    world.carrier.calls = _Calls(world.carrier.calls)


# ---- the carrier side ----------------------------------------------------------------------


def payload_bytes(message: dict[str, Any]) -> bytes:
    return base64.b64decode(message["media"]["payload"])


def media_bytes(sim: SimCall) -> int:
    """Bytes of model audio our server sent the carrier."""
    return sum(
        len(base64.b64decode(m["media"]["payload"])) for m in sim.received if m["event"] == "media"
    )


def events(sim: SimCall, kind: str) -> list[int]:
    """Indexes in `sim.received` of the messages of one kind (media, mark, clear)."""
    return [i for i, m in enumerate(sim.received) if m["event"] == kind]


def mark_name(message: dict[str, Any]) -> str:
    name: str = message["mark"]["name"]
    return name


def media_owner(sim: SimCall, index: int) -> str | None:
    """The name of the first mark after the media message at `index` (the mark that tells
    when that audio has played), or None if no mark follows it."""
    for message in sim.received[index + 1 :]:
        if message["event"] == "mark":
            return mark_name(message)
    return None


def media_runs(sim: SimCall) -> list[tuple[str | None, bytes]]:
    """Our server's audio in send order, grouped by the mark sent right after it."""
    runs: list[tuple[str | None, bytes]] = []
    pending = bytearray()
    for message in sim.received:
        if message["event"] == "media":
            pending += payload_bytes(message)
        elif message["event"] == "mark" and pending:
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


def rest_hang_ups(world: SimWorld, sim: SimCall) -> list[str]:
    return [
        u.params["Status"][0]
        for u in world.carrier.updates
        if u.call_sid == sim.sid and "Status" in u.params
    ]


def watch_updates(world: SimWorld, hook: Callable[[CallUpdate], None]) -> None:
    """Run `hook(update)` as the fake carrier records each REST call update (applied, its
    teardown not run yet)."""
    world.carrier.updates = HookedList(world.carrier.updates, hook)
