"""The conversation of one fake Realtime session: its items in order, the audio behind each,
and the client's `conversation.item.*` events (create, truncate, delete, retrieve)."""

from __future__ import annotations

import copy
from collections.abc import Callable

from voicecall_rt.simulator.openai import realtime_rules
from voicecall_rt.simulator.openai.client_event_check import ClientEventProblem
from voicecall_rt.simulator.openai.session_config import SessionConfig
from voicecall_rt.simulator.openai.wire import JSON, Wire

__all__ = ["Conversation"]


def _not_found(item_id: str) -> ClientEventProblem:
    return ClientEventProblem("invalid_value", f"Item with item_id not found: {item_id}", "item_id")


class Conversation:
    """The items the model sees. `truncations` holds (item_id, audio_end_ms) per accepted
    truncate; `assistant_audio_present` turns true at the first assistant audio (the voice is
    frozen from then on)."""

    def __init__(self, wire: Wire, config: SessionConfig, new_id: Callable[[str], str]) -> None:
        self._wire = wire
        self._config = config
        self._new_id = new_id
        self._items: dict[str, JSON] = {}  # conversation items by id
        self._order: list[str] = []  # conversation order
        self._audio_ms: dict[str, int] = {}  # audio generated/received per item
        self._kept_ms: dict[str, int] = {}  # what is left of it after truncation
        self.truncations: list[tuple[str, int]] = []
        self.assistant_audio_present = False

    @property
    def items(self) -> list[JSON]:
        """The conversation as the model sees it, in order."""
        return [self._items[i] for i in self._order]

    @property
    def last_id(self) -> str | None:
        return self._order[-1] if self._order else None

    def insert(self, item: JSON, after: str | None) -> None:
        """Put `item` after `after` ("root" = at the start, None = at the end)."""
        self._items[item["id"]] = item
        if after is None or (self._order and after == self._order[-1]):
            self._order.append(item["id"])
        elif after == "root":
            self._order.insert(0, item["id"])
        else:
            self._order.insert(self._order.index(after) + 1, item["id"])

    def audio_ms(self, item_id: str) -> int:
        """Audio generated so far for an assistant item, or received for a user item.
        KeyError if unknown."""
        return self._audio_ms[item_id]

    def set_audio_ms(self, item_id: str, ms: int) -> None:
        self._audio_ms[item_id] = ms

    def kept_ms(self, item_id: str) -> int:
        """The item's audio still in the context (after any truncation)."""
        return self._kept_ms.get(item_id, self._audio_ms.get(item_id, 0))

    async def add(self, item: JSON, previous: str | None, audio_ms: int) -> None:
        """A finished item joins after `previous`: `conversation.item.added` then `.done`."""
        self.insert(item, previous)
        self._audio_ms[item["id"]] = audio_ms
        # Copies: `sent` keeps what went on the wire, the stored item keeps changing.
        await self._wire.emit(
            "conversation.item.added", previous_item_id=previous, item=copy.deepcopy(item)
        )
        await self._wire.emit(
            "conversation.item.done", previous_item_id=previous, item=copy.deepcopy(item)
        )

    # ---- client events -------------------------------------------------------------------

    async def on_item_create(self, event: JSON, event_id: str | None) -> None:
        item: JSON = copy.deepcopy(event["item"])
        previous: str | None = event.get("previous_item_id")
        problem = realtime_rules.item_create_problem(item, previous, self._items)
        if problem is not None:
            await self._wire.refuse(event, event_id, problem)
            return
        item.setdefault("id", self._new_id("item_"))
        item["object"] = "realtime.item"
        item.setdefault("status", "completed")
        audio_ms = 0
        for part in item.get("content") or []:
            audio = part.pop("audio", None)  # echoes carry no audio bytes
            if audio is None:
                continue
            audio_bytes = realtime_rules.decoded_audio(audio, "item.content.audio")
            if isinstance(audio_bytes, ClientEventProblem):
                await self._wire.refuse(event, event_id, audio_bytes)
                return
            audio_ms += len(audio_bytes) // self._config.input_format().bytes_per_ms
        if previous is None and self._order:
            previous = self._order[-1]
        await self.add(item, previous, audio_ms)

    async def on_truncate(self, event: JSON, event_id: str | None) -> None:
        item_id: str = event["item_id"]
        end_ms: int = event["audio_end_ms"]
        # Checked against what is left after any earlier truncation, as the API does.
        problem = realtime_rules.truncate_problem(
            self._items.get(item_id),
            item_id=item_id,
            content_index=event["content_index"],
            end_ms=end_ms,
            generated_ms=self._audio_ms.get(item_id, 0),
            kept_ms=self.kept_ms(item_id),
        )
        if problem is not None:
            await self._wire.refuse(event, event_id, problem)
            return
        self.truncations.append((item_id, end_ms))
        # The real API drops the unheard part from the context; token accounting follows.
        self._kept_ms[item_id] = end_ms
        await self._wire.emit(
            "conversation.item.truncated", item_id=item_id, content_index=0, audio_end_ms=end_ms
        )

    async def on_item_delete(self, event: JSON, event_id: str | None) -> None:
        item_id: str = event["item_id"]
        if item_id not in self._items:
            await self._wire.refuse(event, event_id, _not_found(item_id))
            return
        del self._items[item_id]
        self._order.remove(item_id)
        await self._wire.emit("conversation.item.deleted", item_id=item_id)

    async def on_item_retrieve(self, event: JSON, event_id: str | None) -> None:
        item = self._items.get(event["item_id"])
        if item is None:
            await self._wire.refuse(event, event_id, _not_found(event["item_id"]))
            return
        await self._wire.emit("conversation.item.retrieved", item=copy.deepcopy(item))
