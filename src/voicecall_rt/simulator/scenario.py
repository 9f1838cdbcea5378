"""Scripts for a simulated call: what the far party does and what the fake model says.

The fake carrier plays the far party (`CallPlan.callee`), the fake model plays gpt-realtime
(`ModelScript.turns`). They never talk to each other directly: everything goes through our
server over the real wire protocols, exactly as in a real call. The only shared knowledge is
the text of the far party's lines, which stands in for what a real model would transcribe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

# ---- the far party (driven by the fake carrier) --------------------------------------


@dataclass(frozen=True)
class Speak:
    """The far party talks for `ms` milliseconds (voice-like audio), then goes quiet."""

    text: str
    ms: int = 1200


@dataclass(frozen=True)
class WaitForModel:
    """Wait until the model speaks (audio played after this step begins), then is silent
    for `quiet_ms`."""

    quiet_ms: int = 600
    timeout_s: float = 20.0


@dataclass(frozen=True)
class WaitForDigits:
    """An IVR waits until it has heard `count` keypad tones (decoded from the call audio)."""

    count: int = 1
    timeout_s: float = 20.0


@dataclass(frozen=True)
class Pause:
    """Silence on the line for `ms` milliseconds."""

    ms: int


@dataclass(frozen=True)
class HangUp:
    """The far party hangs up."""


CalleeStep = Speak | WaitForModel | WaitForDigits | Pause | HangUp


@dataclass(frozen=True)
class CallPlan:
    """How the simulated network and far party treat one call."""

    answer: Literal["answer", "no-answer", "busy", "failed"] = "answer"
    ring_ms: int = 300
    # Async AMD verdict posted `amd_delay_ms` after answer when AMD was requested
    # (None: never posted).
    answered_by: str | None = "human"
    amd_delay_ms: int = 1500
    callee: tuple[CalleeStep, ...] = ()
    # After the script ends the far party stays on the line (silence) until hung up.


# ---- the model (driven by the fake Realtime server) ----------------------------------


@dataclass(frozen=True)
class Say:
    """The model speaks `text`, as `ms` milliseconds of audio plus its transcript."""

    text: str
    ms: int = 1500


@dataclass(frozen=True)
class CallTool:
    """The model calls a function tool with these arguments."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


ModelAction = Say | CallTool


@dataclass(frozen=True)
class ModelScript:
    """Each response the model produces (VAD-triggered or asked for with `response.create`)
    plays the next turn; when turns run out, responses are empty."""

    turns: tuple[tuple[ModelAction, ...], ...] = ()
    # Transcript given to each detected caller utterance, in order.
    caller_transcripts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    to_number: str
    task: str
    carrier: CallPlan
    model: ModelScript


def callee_lines(plan: CallPlan) -> tuple[str, ...]:
    """The far party's lines in order: what the fake model 'hears' and transcribes."""
    return tuple(step.text for step in plan.callee if isinstance(step, Speak))
