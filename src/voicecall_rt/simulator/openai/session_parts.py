"""What the parts of one fake Realtime session share (`FakeSession` makes one for its
input audio, its responses and their output)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from voicecall_rt.simulator.openai.conversation import Conversation
from voicecall_rt.simulator.openai.session_config import SessionConfig
from voicecall_rt.simulator.openai.wire import Wire
from voicecall_rt.simulator.tasks import TaskSet

if TYPE_CHECKING:
    from voicecall_rt.simulator.openai.server import FakeRealtimeServer

__all__ = ["SessionParts"]


@dataclass(frozen=True)
class SessionParts:
    server: FakeRealtimeServer  # its knobs (read when needed), ids and script cursors
    wire: Wire
    config: SessionConfig
    conversation: Conversation
    tasks: TaskSet
