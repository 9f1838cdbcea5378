"""A debug recording's two audio tracks, on the caller's stream clock (call/recording.py).

- Caller track: each caller frame goes where the carrier stamped it (ms since the stream
  started, 8 bytes per ms), or right after the previous one when it is not stamped; gaps
  are µ-law silence, so the track keeps real time.
- Model track: what we sent the carrier (model audio, keypad tones), placed where it would
  play: right after the previous outbound audio, but never before the moment it was sent.
  "Now" on the stream clock is the last stamped caller frame's place plus the monotonic
  time since it arrived. A `clear` drops the outbound audio after "now": it was never
  heard.
- Both tracks stop at `cap` bytes (the longest call): a forged stamp cannot make us
  allocate more.
- At the end both are padded to one length and rendered: a µ-law WAV each (format 7) and
  a 16-bit PCM stereo mix, caller left and model right.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from typing import Final

from voicecall_rt.audio import g711
from voicecall_rt.audio.wav import pcm16_wav_bytes, ulaw_wav_bytes

BYTES_PER_MS: Final = 8
BYTES_PER_SECOND: Final = 8000
SILENCE: Final = bytes([g711.SILENCE])


class Tracks:
    """The caller's and the model's audio of one call, as µ-law bytes on one clock."""

    def __init__(self, cap: int, clock: Callable[[], float]) -> None:
        self.caller = bytearray()
        self.model = bytearray()
        self.clipped = False  # audio past the cap was dropped
        self._cap = cap
        self._clock = clock
        # The stream clock: stream byte offset `_anchor` was "now" at monotonic `_anchor_at`.
        self._anchor: int | None = None
        self._anchor_at = 0.0

    def start(self) -> None:
        """The stream begins: stream ms 0 is now."""
        self._anchor, self._anchor_at = 0, self._clock()

    def now(self) -> int | None:
        """Now on the stream clock, in bytes; None before the stream."""
        if self._anchor is None:
            return None
        return self._anchor + round((self._clock() - self._anchor_at) * BYTES_PER_SECOND)

    def heard(self, audio: bytes, at_ms: int | None) -> None:
        """A caller frame, at the carrier's stamp (None: right after the previous frame)."""
        if at_ms is None or at_ms < 0:
            pos = len(self.caller)
        else:
            pos = at_ms * BYTES_PER_MS
            if pos < self._cap:  # a forged far-future stamp does not move the clock
                self._anchor, self._anchor_at = pos, self._clock()
        self._place(self.caller, pos, audio)

    def sent(self, audio: bytes) -> None:
        """Audio we sent the caller: it plays after what was sent before it, from now on."""
        now = self.now()
        track = self.model
        self._place(track, len(track) if now is None else max(len(track), now), audio)

    def clear(self) -> int:
        """We told the carrier to drop what it had queued: the model track ends now.
        Returns how many bytes of it were never heard."""
        now = self.now()
        if now is None or len(self.model) <= now:
            return 0
        dropped = len(self.model) - now
        del self.model[now:]
        return dropped

    def take(self) -> tuple[bytearray, bytearray]:
        """Both tracks, handed over (the recorder keeps empty ones)."""
        caller, model = self.caller, self.model
        self.caller, self.model = bytearray(), bytearray()
        return caller, model

    def _place(self, track: bytearray, pos: int, audio: bytes) -> None:
        room = self._cap - pos
        if room <= 0:
            self.clipped = True
            return
        if len(audio) > room:
            audio = audio[:room]
            self.clipped = True
        if pos > len(track):
            track += SILENCE * (pos - len(track))
        track[pos : pos + len(audio)] = audio


def render(caller: bytearray, model: bytearray) -> tuple[bytes, bytes, bytes]:
    """The tracks padded to one length, as WAV files: caller (µ-law), model (µ-law), and
    the stereo mix (16-bit PCM, caller left, model right)."""
    length = max(len(caller), len(model))
    caller += SILENCE * (length - len(caller))
    model += SILENCE * (length - len(model))
    stereo = array("h", bytes(4 * length))
    stereo[0::2] = g711.decode(bytes(caller))
    stereo[1::2] = g711.decode(bytes(model))
    return (
        ulaw_wav_bytes(bytes(caller)),
        ulaw_wav_bytes(bytes(model)),
        pcm16_wav_bytes(stereo, channels=2),
    )
