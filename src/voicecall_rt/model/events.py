"""OpenAI Realtime server events, read into the call's neutral terms (`model/base.py`).

One reader per server event type the call cares about; everything else is ignored, as the
protocol asks. Usage is added up here because its fields are OpenAI's (docs/protocols.md
§1.6): the call only ever sees the totals. Audio deltas never come through here: they are
the hot path (`model/realtime_session.py`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from voicecall_rt.model import realtime
from voicecall_rt.model.base import ModelError, ModelListener, ResponseEnd, ToolCall

Reader = Callable[[ModelListener, dict[str, Any]], Awaitable[None]]

_USAGE_KEYS = ("input_tokens", "output_tokens", "total_tokens")
_INPUT_DETAIL_KEYS = ("text_tokens", "audio_tokens", "cached_tokens")
_OUTPUT_DETAIL_KEYS = ("text_tokens", "audio_tokens")  # output has no cached tokens
# Racing a response that just finished is routine (docs/protocols.md §1.3).
_ROUTINE_ERRORS = frozenset(
    {"response_cancel_not_active", "conversation_already_has_active_response"}
)


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


class EventReader:
    """Reads one call's server events for its listener, adding up usage as it goes; `ids`
    are the call's client event ids, to name what an `error` answers."""

    def __init__(
        self, ids: realtime.EventIds, usage: dict[str, Any], model: str, transcription_model: str
    ) -> None:
        self.ids = ids
        self.usage = usage
        self._model = model
        self._transcription_model = transcription_model
        self.readers: dict[str, Reader] = {
            "input_audio_buffer.speech_started": self._speech_started,
            "input_audio_buffer.speech_stopped": self._speech_stopped,
            "input_audio_buffer.committed": self._committed,
            "conversation.item.input_audio_transcription.completed": self._caller_text,
            "conversation.item.input_audio_transcription.failed": self._caller_inaudible,
            "rate_limits.updated": self._rate_limits,
            "response.output_audio_transcript.done": self._assistant_text,
            "response.created": self._response_created,
            "response.done": self._response_done,
            "error": self._error,
        }

    async def _speech_started(self, to: ModelListener, event: dict[str, Any]) -> None:
        await to.on_speech_started(_str(event.get("item_id")))

    async def _speech_stopped(self, to: ModelListener, event: dict[str, Any]) -> None:
        await to.on_speech_stopped()

    async def _committed(self, to: ModelListener, event: dict[str, Any]) -> None:
        await to.on_committed()

    async def _caller_text(self, to: ModelListener, event: dict[str, Any]) -> None:
        usage = event.get("usage")
        if isinstance(usage, dict):
            self._add_transcription_usage(usage)
        text = event.get("transcript")
        if isinstance(text, str) and text.strip():
            await to.on_caller_text(str(event.get("item_id")), text)

    async def _caller_inaudible(self, to: ModelListener, event: dict[str, Any]) -> None:
        await to.on_caller_inaudible(
            str(event.get("item_id")), realtime.error_text(event.get("error"))
        )

    async def _rate_limits(self, to: ModelListener, event: dict[str, Any]) -> None:
        limits = event.get("rate_limits")
        if isinstance(limits, list):
            await to.on_rate_limits(limits)

    async def _assistant_text(self, to: ModelListener, event: dict[str, Any]) -> None:
        item_id, text = event.get("item_id"), event.get("transcript")
        if isinstance(item_id, str) and isinstance(text, str):
            await to.on_assistant_text(item_id, text)

    async def _response_created(self, to: ModelListener, event: dict[str, Any]) -> None:
        response = event.get("response")
        rid = response.get("id") if isinstance(response, dict) else None
        await to.on_response_started(_str(rid))

    async def _response_done(self, to: ModelListener, event: dict[str, Any]) -> None:
        response = event.get("response")
        if not isinstance(response, dict):
            response = {}
        usage = response.get("usage")
        if isinstance(usage, dict):
            self._add_usage(usage)
        details = response.get("status_details")
        if not isinstance(details, dict):
            details = {}
        error = details.get("error") if isinstance(details.get("error"), dict) else {}
        assert isinstance(error, dict)
        code = error.get("code") or error.get("type")
        calls = [
            ToolCall(
                str(item.get("call_id", "")),
                str(item.get("name", "")),
                str(item.get("arguments", "")),
            )
            for item in response.get("output") or ()
            if isinstance(item, dict) and item.get("type") == "function_call"
        ]
        await to.on_response_done(
            ResponseEnd(
                response_id=str(response.get("id")),
                status=str(response.get("status")),
                reason=_str(details.get("reason")),
                error_code=code if isinstance(code, str) else None,
                error_text=realtime.error_text(error),
                fatal=code in realtime.FATAL_CODES,
                tool_calls=calls,
            )
        )

    async def _error(self, to: ModelListener, event: dict[str, Any]) -> None:
        """An `error`, with the client event it answers (by its `event_id`)."""
        error = event.get("error")
        if not isinstance(error, dict):
            error = {}
        code = _str(error.get("code"))
        await to.on_error(
            ModelError(
                code=code,
                type=_str(error.get("type")),
                message=_str(error.get("message")),
                text=realtime.error_text(error),
                client_event=self.ids.describe(error.get("event_id")),
                fatal=code in realtime.FATAL_CODES,
                expired=code == "session_expired",
                routine=code in _ROUTINE_ERRORS,
            )
        )

    # ---- usage ---------------------------------------------------------------------------

    def _add_usage(self, usage: dict[str, Any]) -> None:
        totals = self.usage
        totals.setdefault("model", self._model)  # what the tokens cost
        for key in _USAGE_KEYS:
            totals[key] = totals.get(key, 0) + int(usage.get(key) or 0)
        for side, keys in (("input", _INPUT_DETAIL_KEYS), ("output", _OUTPUT_DETAIL_KEYS)):
            details = usage.get(f"{side}_token_details") or {}
            for key in keys:
                name = f"{side}_{key}"
                totals[name] = totals.get(name, 0) + int(details.get(key) or 0)
        # Cached input is priced apart for text and audio (docs/protocols.md §1.6).
        cached = (usage.get("input_token_details") or {}).get("cached_tokens_details") or {}
        for key in ("text_tokens", "audio_tokens"):
            name = f"input_cached_{key}"
            totals[name] = totals.get(name, 0) + int(cached.get(key) or 0)

    def _add_transcription_usage(self, usage: dict[str, Any]) -> None:
        """Input transcription is billed apart from the model, by tokens or by seconds."""
        totals = self.usage
        totals.setdefault("transcription_model", self._transcription_model)
        if usage.get("type") == "duration":
            seconds = usage.get("seconds")
            if isinstance(seconds, int | float) and seconds > 0:
                total = float(totals.get("transcription_seconds", 0.0)) + float(seconds)
                totals["transcription_seconds"] = round(total, 3)
            return
        details = usage.get("input_token_details")
        if not isinstance(details, dict):
            details = {}
        for name, value in (
            ("transcription_input_text_tokens", details.get("text_tokens")),
            ("transcription_input_audio_tokens", details.get("audio_tokens")),
            ("transcription_output_tokens", usage.get("output_tokens")),
        ):
            totals[name] = totals.get(name, 0) + (
                int(value) if isinstance(value, int) and value > 0 else 0
            )
