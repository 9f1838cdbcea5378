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
class WaitForHeard:
    """Wait until `ms` of model audio has played since this step began (a far party about
    to talk over the model: tied to what it heard, not to a clock)."""

    ms: int
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


@dataclass(frozen=True)
class PressKeys:
    """The far party presses keypad keys (`0-9 * # A-D`; `w` or `,` waits 0.5 s). Each key is
    an ITU-T Q.23 tone of `tone_ms` in their audio, then `gap_ms` of silence; with
    `send_event`, Twilio's `dtmf` stream message follows each tone, as it does for a key
    pressed on a bidirectional stream (`simulator.keypad`). Without it only the tones reach
    our server, as when the key was not detected."""

    keys: str
    tone_ms: int = 100
    gap_ms: int = 100
    send_event: bool = True


CalleeStep = Speak | WaitForModel | WaitForHeard | WaitForDigits | Pause | HangUp | PressKeys


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
    # The line to Twilio (`simulator.line`): each 20 ms caller frame is late by up to
    # `jitter_ms` (order kept, as on one TCP stream) or lost with probability `loss_rate`,
    # drawn from a generator seeded with `line_seed` (the same seed, the same line).
    jitter_ms: int = 0
    loss_rate: float = 0.0
    line_seed: int = 0


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


@dataclass(frozen=True)
class Fail:
    """The response fails here: `response.done` with status `failed` and this error in
    `status_details.error` (output items played before it stay). Ready-made account and
    server failures: `simulator.openai.model_errors`. `{session_id}` in the message is filled in."""

    type: str = "server_error"
    code: str | None = None
    message: str = (
        "The server had an error while processing your request. Sorry about that! Please "
        "contact us through our help center at help.openai.com if the error persists. "
        "(include session ID in your message: {session_id}). We recommend you retry your "
        "request."
    )


@dataclass(frozen=True)
class Incomplete:
    """The response stops here with status `incomplete` for `reason`. With `after_ms`, the
    `Say` just before it is cut after that much audio (its item ends `incomplete`)."""

    reason: Literal["max_output_tokens", "content_filter"] = "max_output_tokens"
    after_ms: int | None = None


ModelAction = Say | CallTool | Fail | Incomplete


@dataclass(frozen=True)
class TranscriptionFailure:
    """A caller utterance whose transcription fails
    (`conversation.item.input_audio_transcription.failed` with this error)."""

    type: str = "transcription_error"
    code: str = "audio_unintelligible"
    message: str = "The audio could not be transcribed."


# What the input transcription makes of one caller utterance; None fails like the default
# `TranscriptionFailure()`.
CallerTranscript = str | TranscriptionFailure | None


@dataclass(frozen=True)
class ModelScript:
    """Each response the model produces (VAD-triggered or asked for with `response.create`)
    plays the next turn; when turns run out, responses are empty."""

    turns: tuple[tuple[ModelAction, ...], ...] = ()
    # Transcript given to each detected caller utterance, in order. Its wording also sets
    # how long semantic VAD waits before ending the turn (`simulator.openai.turn_timing`).
    caller_transcripts: tuple[CallerTranscript, ...] = ()


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
