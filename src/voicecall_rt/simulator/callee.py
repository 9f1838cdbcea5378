"""The far party's script (`CallPlan.callee`, `simulator.scenario`), run on a live stream.

`Speak` sends voice-like frames for its duration; `Pause` waits that long on the stream
clock; `WaitForModel` waits until model audio played *since the previous WaitForModel* and
then `quiet_ms` with nothing queued; `WaitForHeard` until that much model audio has played;
keys heard before a `WaitForDigits` count towards it
(IVR type-ahead); `PressKeys` puts keypad tones in the caller's audio (and, if asked, the
carrier's key message); `HangUp` ends the call. After the script the line stays silent until
someone hangs up. Carrier-neutral.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING

from voicecall_rt.simulator.caller_audio import FRAME_MS
from voicecall_rt.simulator.scenario import (
    HangUp,
    Pause,
    PressKeys,
    Speak,
    WaitForDigits,
    WaitForHeard,
    WaitForModel,
)

if TYPE_CHECKING:
    from voicecall_rt.simulator.far_end import FarEnd

__all__ = ["run_script"]

logger = logging.getLogger(__name__)


async def run_script(end: FarEnd) -> None:
    """Play the call's callee script on `end`'s stream, step by step."""
    call = end.call
    digits_used = 0
    for step in call.plan.callee:
        if isinstance(step, Speak):
            call.spoken.append(step.text)
            end.mouth.speak(step.ms)
            await call.wait_for(lambda: end.mouth.voice_frames_left == 0, None)
        elif isinstance(step, Pause):
            await _pause(end, step)
        elif isinstance(step, WaitForModel):
            # Only audio that plays from now on counts: what played before (say, a reply
            # the far party just talked over) must not satisfy this wait.
            await _wait_model(end, step, call.played_bytes)
        elif isinstance(step, WaitForHeard):
            await _wait_heard(end, step)
        elif isinstance(step, WaitForDigits):
            digits_used = await _wait_digits(end, step, digits_used)
        elif isinstance(step, PressKeys):
            end.mouth.press(
                step.keys, tone_ms=step.tone_ms, gap_ms=step.gap_ms, send_event=step.send_event
            )
            await call.wait_for(lambda: not end.mouth.key_frames, None)
        elif isinstance(step, HangUp):
            end.hang_up()
            return
    call.script_done = True
    await call.changed()


async def _pause(end: FarEnd, step: Pause) -> None:
    target = end.tick + math.ceil(step.ms / FRAME_MS)
    await end.call.wait_for(lambda: end.tick >= target, None)


async def _wait_model(end: FarEnd, step: WaitForModel, baseline: int) -> int:
    call = end.call
    playout = end.playout
    quiet_ticks = math.ceil(step.quiet_ms / FRAME_MS)

    def done() -> bool:
        return (
            call.played_bytes > baseline
            and playout.queued_bytes == 0
            and end.tick - playout.last_audio_tick >= quiet_ticks
        )

    try:
        await call.wait_for(done, step.timeout_s)
    except TimeoutError:
        call.script_timeouts.append(f"WaitForModel after {step.timeout_s}s")
        logger.info("fake carrier: %s: model stayed silent (WaitForModel timed out)", call.sid)
    return call.played_bytes


async def _wait_heard(end: FarEnd, step: WaitForHeard) -> None:
    call = end.call
    want = call.played_bytes + step.ms * 8  # µ-law: 8 bytes a millisecond
    try:
        await call.wait_for(lambda: call.played_bytes >= want, step.timeout_s)
    except TimeoutError:
        call.script_timeouts.append(f"WaitForHeard({step.ms}) after {step.timeout_s}s")
        logger.info("fake carrier: %s: WaitForHeard timed out", call.sid)


async def _wait_digits(end: FarEnd, step: WaitForDigits, used: int) -> int:
    call = end.call
    want = used + step.count
    try:
        await call.wait_for(lambda: len(call.heard_digits) >= want, step.timeout_s)
    except TimeoutError:
        call.script_timeouts.append(f"WaitForDigits({step.count}) after {step.timeout_s}s")
        logger.info("fake carrier: %s: WaitForDigits timed out", call.sid)
        return len(call.heard_digits)
    return want
