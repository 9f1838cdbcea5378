"""Token usage as the fake Realtime server reports it: estimates from text length and audio
duration (docs/protocols.md §1.9: ≈10 tokens/s of caller audio, ≈20 tokens/s of model audio, the
usual ~4 characters a text token), with the whole context re-counted for every response and
prompt caching on the prefix it shares with the previous one."""

from __future__ import annotations

import math
from typing import Final

from voicecall_rt.simulator.openai.conversation import Conversation
from voicecall_rt.simulator.openai.wire import JSON, dumps

__all__ = [
    "AUDIO_TOKENS_PER_S_IN",
    "AUDIO_TOKENS_PER_S_OUT",
    "InputUsage",
    "audio_tokens",
    "output_tokens",
    "response_usage",
    "text_tokens",
]

AUDIO_TOKENS_PER_S_IN: Final = 10  # caller audio
AUDIO_TOKENS_PER_S_OUT: Final = 20  # model audio
_CACHE_MIN_TOKENS: Final = 1024  # prompt caching starts at 1024 tokens, in 64-token steps


def text_tokens(text: str) -> int:
    return math.ceil(len(text) / 4)  # the usual ~4 characters per token


def audio_tokens(ms: int, per_s: int) -> int:
    return math.ceil(ms * per_s / 1000)


def output_tokens(earlier_text_tokens: int, current_text: str, audio_ms: int) -> int:
    """Output tokens a response has spent so far: earlier items, this item's words, all
    audio."""
    audio = audio_tokens(audio_ms, AUDIO_TOKENS_PER_S_OUT)
    return earlier_text_tokens + text_tokens(current_text) + audio


def response_usage(input_usage: JSON, out_text_tokens: int, audio_ms: int) -> JSON:
    """The `usage` of `response.done`: the input side counted at the start, plus the output."""
    out_audio_tokens = audio_tokens(audio_ms, AUDIO_TOKENS_PER_S_OUT)
    usage = dict(input_usage)
    usage["output_tokens"] = out_text_tokens + out_audio_tokens
    usage["output_token_details"] = {
        "text_tokens": out_text_tokens,
        "audio_tokens": out_audio_tokens,
    }
    usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
    return usage


class InputUsage:
    """The input side of `usage`, counted as each response starts (one per session: the
    cache estimate compares with the previous count)."""

    def __init__(self) -> None:
        self._last_total = 0

    def count(self, config: JSON, params: JSON, conversation: Conversation) -> JSON:
        """Instructions, tools and every item of the context, for a response with these
        `response.create` parameters."""
        instructions = str(params.get("instructions") or config.get("instructions") or "")
        tools = params.get("tools", config.get("tools")) or []
        text = 40 + text_tokens(instructions) + text_tokens(dumps(tools))  # 40: framing
        audio = 0
        for item in conversation.items:
            ms = conversation.kept_ms(item["id"])
            if item.get("type") == "message":
                if item.get("role") == "assistant":
                    audio += audio_tokens(ms, AUDIO_TOKENS_PER_S_OUT)
                else:
                    audio += audio_tokens(ms, AUDIO_TOKENS_PER_S_IN)
                for part in item.get("content") or []:
                    if part.get("type") in ("input_text", "output_text"):
                        text += text_tokens(str(part.get("text") or ""))
            else:
                text += text_tokens(str(item.get("arguments") or item.get("output") or ""))
            text += 4  # per-item framing
        total = text + audio
        # Prompt caching: the prefix shared with the previous request, in 64-token steps,
        # once it is at least 1024 tokens long.
        shared = min(total, self._last_total)
        cached = shared // 64 * 64 if shared >= _CACHE_MIN_TOKENS else 0
        cached_text = min(cached, text)
        self._last_total = total
        return {
            "total_tokens": 0,  # filled in at response.done
            "input_tokens": total,
            "output_tokens": 0,
            "input_token_details": {
                "text_tokens": text,
                "audio_tokens": audio,
                "image_tokens": 0,
                "cached_tokens": cached,
                "cached_tokens_details": {
                    "text_tokens": cached_text,
                    "audio_tokens": cached - cached_text,
                    "image_tokens": 0,
                },
            },
        }
