"""What a fake Realtime response streams for each scripted action: a `Say` as audio (or text)
deltas with its transcript, a `CallTool` as function-call argument deltas, each in its own
output item (also a conversation item unless the response is out of band)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import math

from voicecall_rt.simulator.openai import usage
from voicecall_rt.simulator.openai.response_state import Response
from voicecall_rt.simulator.openai.session_parts import SessionParts
from voicecall_rt.simulator.openai.wire import JSON, dumps
from voicecall_rt.simulator.scenario import CallTool, Say

__all__ = ["ResponseOutput"]


class ResponseOutput:
    """Plays actions of a session's responses (the server's `delta_ms`, `pace` and
    `tail_deltas` are read as each plays)."""

    def __init__(self, parts: SessionParts) -> None:
        self._parts = parts

    async def _pace(self, response: Response) -> None:
        """Between deltas: yield (pace 0) or wait delta_ms×pace, waking early on cancel."""
        if self._parts.server.pace <= 0:
            await asyncio.sleep(0)  # let the reader see a cancel or a barge-in
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(
                self._parts.server.delta_ms * self._parts.server.pace / 1000
            ):
                await response.cancel_requested.wait()

    async def _add_item(self, response: Response, output_index: int, item: JSON) -> str | None:
        """The item starts (`.added`); returns the id of the item it follows."""
        previous = self._parts.conversation.last_id
        response.obj["output"].append(item)
        await self._item_event("added", response, output_index, item, previous)
        return previous

    async def _item_event(
        self, stage: str, response: Response, output_index: int, item: JSON, previous: str | None
    ) -> None:
        """`response.output_item.<stage>`, then `conversation.item.<stage>` unless the
        response is out of band (at `added`, the item joins the conversation in between)."""
        await self._parts.wire.emit(
            f"response.output_item.{stage}",
            response_id=response.id,
            output_index=output_index,
            item=copy.deepcopy(item),
        )
        if response.out_of_band:
            return
        if stage == "added":
            self._parts.conversation.insert(item, previous)
        await self._parts.wire.emit(
            f"conversation.item.{stage}", previous_item_id=previous, item=copy.deepcopy(item)
        )

    async def play_say(
        self, response: Response, output_index: int, say: Say, cut_ms: int | None
    ) -> None:
        """`cut_ms`: a scripted `Incomplete(after_ms=…)` right after this `Say`."""
        audio_out = "audio" in response.modalities
        item_id = self._parts.server.new_id("item_")
        item: JSON = {
            "id": item_id,
            "type": "message",
            "object": "realtime.item",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        previous = await self._add_item(response, output_index, item)
        self._parts.conversation.set_audio_ms(item_id, 0)
        where = {
            "response_id": response.id,
            "item_id": item_id,
            "output_index": output_index,
            "content_index": 0,
        }
        empty_part: JSON = (
            {"type": "audio", "transcript": ""} if audio_out else {"type": "text", "text": ""}
        )
        await self._parts.wire.emit("response.content_part.added", **where, part=empty_part)

        fmt = response.output_format
        step_ms = max(1, self._parts.server.delta_ms)
        text_delta = (
            "response.output_audio_transcript.delta" if audio_out else "response.output_text.delta"
        )
        play_ms = say.ms if cut_ms is None else max(0, min(say.ms, cut_ms))
        token_cap = response.obj["max_output_tokens"]
        tail_left = self._parts.server.tail_deltas
        sent_chars = 0
        for start_ms in range(0, play_ms, step_ms):
            if response.cancel_reason is not None:
                # Deltas generated before the cancel was seen are still on their way.
                if tail_left <= 0 or not audio_out:
                    break
                tail_left -= 1
            elif response.stopping:
                break
            end_ms = min(play_ms, start_ms + step_ms)
            if audio_out:
                chunk = fmt.synthesize(start_ms, end_ms)
                await self._parts.wire.emit(
                    "response.output_audio.delta",
                    **where,
                    delta=base64.b64encode(chunk).decode(),
                )
                self._parts.conversation.assistant_audio_present = True
                self._parts.conversation.set_audio_ms(item_id, end_ms)
                response.audio_ms += end_ms - start_ms
                response.first_audio.set()
            upto = round(len(say.text) * end_ms / say.ms)
            if upto > sent_chars:
                await self._parts.wire.emit(text_delta, **where, delta=say.text[sent_chars:upto])
                sent_chars = upto
            spent = usage.output_tokens(
                response.text_tokens, say.text[:sent_chars], response.audio_ms
            )
            if isinstance(token_cap, int) and spent >= token_cap:
                response.incomplete_reason = "max_output_tokens"
            if response.cancel_reason is None:
                await self._pace(response)

        cut = play_ms < say.ms  # a scripted `Incomplete(after_ms=…)` stops the words here too
        if not response.stopping and not cut and sent_chars < len(say.text):  # e.g. ms=0
            await self._parts.wire.emit(text_delta, **where, delta=say.text[sent_chars:])
            sent_chars = len(say.text)
        text = say.text[:sent_chars]
        response.text_tokens += usage.text_tokens(text)
        if audio_out:
            await self._parts.wire.emit("response.output_audio.done", **where)
            await self._parts.wire.emit(
                "response.output_audio_transcript.done", **where, transcript=text
            )
            part: JSON = {"type": "audio", "transcript": text}
            content: JSON = {"type": "output_audio", "transcript": text}
        else:
            await self._parts.wire.emit("response.output_text.done", **where, text=text)
            part = {"type": "text", "text": text}
            content = {"type": "output_text", "text": text}
        await self._parts.wire.emit("response.content_part.done", **where, part=part)
        item["content"] = [content]
        item["status"] = "incomplete" if response.stopping or cut else "completed"
        await self._item_event("done", response, output_index, item, previous)

    async def play_call(self, response: Response, output_index: int, call: CallTool) -> None:
        item_id = self._parts.server.new_id("item_")
        call_id = self._parts.server.new_id("call_", length=16)
        arguments = dumps(call.arguments)
        item: JSON = {
            "id": item_id,
            "type": "function_call",
            "object": "realtime.item",
            "status": "in_progress",
            "name": call.name,
            "call_id": call_id,
            "arguments": "",
        }
        previous = await self._add_item(response, output_index, item)
        where = {"response_id": response.id, "item_id": item_id, "output_index": output_index}
        piece = max(1, math.ceil(len(arguments) / 3))  # a few deltas, like streamed tokens
        for start in range(0, len(arguments), piece):
            await self._parts.wire.emit(
                "response.function_call_arguments.delta",
                **where,
                call_id=call_id,
                delta=arguments[start : start + piece],
            )
        await self._parts.wire.emit(
            "response.function_call_arguments.done",
            **where,
            call_id=call_id,
            name=call.name,
            arguments=arguments,
        )
        response.text_tokens += usage.text_tokens(call.name) + usage.text_tokens(arguments)
        item["arguments"] = arguments
        item["status"] = "completed"
        await self._item_event("done", response, output_index, item, previous)
