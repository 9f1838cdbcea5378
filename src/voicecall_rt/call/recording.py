"""Debug recordings of one call (`debug: true` only; the bridge makes no recorder otherwise).

What the caller said and what we sent them, each as a time-aligned µ-law track on the
caller's stream clock (call/recording_tracks.py), plus every message exchanged with the
carrier and the model, written at the end of the call (call/recording_files.py).

The recorder knows neither wire format. It is handed what went over the wire:
- by the relay and the bridge, the carrier's side: each message read from it, with what the
  carrier's codec read in it (a media frame's payload, and its stamp on the stream clock),
  and each message we wrote to it, with the audio payload it carried;
- by the model session, through `ModelTap`: each event sent and received, caller audio as
  the message that carried it, and an audio delta with its payload as a byte count.
Each message is recorded as JSON, scrubbed of audio and secrets (`scrub`). The event log
stops at EVENT_LOG_MAX_BYTES. Non-audio messages also go to the `voicecall_rt.wire` logger
at DEBUG, coloured on a TTY, secrets redacted.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import orjson

from voicecall_rt.call.journal import CallJournal
from voicecall_rt.call.recording_files import (
    FILES,
    RECORDINGS_DIR,
    redact_text,
    scrub,
    write_recording,
)
from voicecall_rt.call.recording_tracks import BYTES_PER_MS, BYTES_PER_SECOND, Tracks
from voicecall_rt.carrier.base import Frame, StreamCodec, StreamStart
from voicecall_rt.config import Settings
from voicecall_rt.logs import REDACTED, settings_secrets

__all__ = ["EVENT_LOG_MAX_BYTES", "REDACTED", "CallRecorder"]

log = logging.getLogger(__name__)
wire_log = logging.getLogger("voicecall_rt.wire")

EVENT_LOG_MAX_BYTES: Final = 64 * 1024 * 1024
LOG_LINE_MAX: Final = 2000  # characters of one event shown on the wire logger

_RESET: Final = "\x1b[0m"
_COLOURS: Final = {
    ("in", "carrier"): "\x1b[33m",  # yellow
    ("out", "carrier"): "\x1b[32m",  # green
    ("in", "model"): "\x1b[36m",  # cyan
    ("out", "model"): "\x1b[35m",  # magenta
}
_ARROWS: Final = {"in": "←", "out": "→"}


def _unstamped(data: str | bytes) -> int | None:
    return None


class CallRecorder:
    """One call's debug recording. Every method is safe to call at any time and never
    raises into the call; after `finish()` the recorder ignores everything."""

    def __init__(
        self,
        *,
        call_id: str,
        settings: Settings,
        journal: CallJournal,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not call_id or "/" in call_id or "\\" in call_id or call_id.startswith("."):
            raise ValueError(f"unusable call id for a recording directory: {call_id!r}")
        self.call_id = call_id
        self.directory = settings.data_dir / RECORDINGS_DIR / call_id
        self._data_dir = settings.data_dir
        self._journal = journal
        self._tracks = Tracks(settings.calls.max_duration_seconds * BYTES_PER_SECOND, clock)
        self._frame_ms: Callable[[str | bytes], int | None] = _unstamped
        self._events: list[bytes] = []
        self._events_bytes = 0
        self.events_dropped = 0
        # Where the last audio we sent the carrier was logged (see `from_model_audio`).
        self._audio_out_at: int | None = None
        self._secrets = {secret for secret in settings_secrets(settings) if secret}
        self._colour = _isatty()
        self._done = False

    @property
    def clipped(self) -> bool:
        """Audio past the longest call was dropped."""
        return self._tracks.clipped

    # ---- the event log ---------------------------------------------------------------------

    def _line(self, direction: str, peer: str, event: Any, extra: dict[str, Any]) -> bytes | None:
        now = self._tracks.now()
        entry: dict[str, Any] = {
            "t_ms": self._journal.t_ms(),
            "stream_ms": None if now is None else now // BYTES_PER_MS,
            "dir": direction,
            "peer": peer,
            "event": event,
        }
        if extra:
            entry.update(extra)
        try:
            line = orjson.dumps(entry)
        except TypeError:
            line = orjson.dumps({**entry, "event": repr(event)[:200]})
        if self._events_bytes + len(line) > EVENT_LOG_MAX_BYTES:
            self.events_dropped += 1
            return None
        self._events_bytes += len(line) + 1
        return line

    def _record(self, direction: str, peer: str, event: Any, **extra: Any) -> bytes | None:
        """An audio message (already scrubbed): logged to the file only."""
        line = self._line(direction, peer, event, extra)
        if line is not None:
            self._events.append(line)
        return line

    def _record_and_log(self, direction: str, peer: str, event: Any, **extra: Any) -> None:
        """A rare (non-audio) message: on the wire logger as well, scrubbed of secrets."""
        clean = scrub(event)
        line = self._record(direction, peer, clean, **extra)
        if not wire_log.isEnabledFor(logging.DEBUG):
            return
        text = redact_text(
            (line or orjson.dumps(clean, default=repr)).decode(errors="replace"), self._secrets
        )
        if len(text) > LOG_LINE_MAX:
            text = text[:LOG_LINE_MAX] + "…"
        kind = (event.get("type") or event.get("event")) if isinstance(event, dict) else None
        label = f"{peer} {_ARROWS[direction]} {kind or '?'}"
        if self._colour:
            label = f"{_COLOURS[direction, peer]}{label}{_RESET}"
        wire_log.debug("call %s %s %s", self.call_id, label, text)

    # ---- the carrier's side (the bridge and the relay) -----------------------------------

    def stream_started(self, start: StreamStart, message: str | bytes, codec: StreamCodec) -> None:
        """The stream's start, as read: the stream clock begins (stream ms 0 is now), and
        `codec` tells where each caller frame belongs on it."""
        if self._done:
            return
        self._tracks.start()
        self._frame_ms = codec.frame_ms
        token = start.token
        if token:
            # `<call id>.<secret>`: the call id is no secret, the rest and the whole are.
            self._secrets.add(token)
            secret = token.partition(".")[2]
            if secret:
                self._secrets.add(secret)
        self._record_and_log("in", "carrier", _parse(message))

    def from_carrier(self, data: str | bytes, kind: Frame, value: str) -> None:
        """A message read from the carrier, as it came, and what its codec read in it: the
        payload of a MEDIA frame joins the caller track."""
        if self._done:
            return
        try:
            message = _parse(data)
            if kind is not Frame.MEDIA:
                self._record_and_log("in", "carrier", message)
                return
            try:
                audio = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                self._record_and_log("in", "carrier", message, bad_payload=True)
                return
            self._tracks.heard(audio, self._frame_ms(data))
            self._record("in", "carrier", scrub(message))
        except Exception:
            log.exception("call %s: recording a carrier message failed", self.call_id)

    def to_carrier(self, message: str, audio: str | None = None, **extra: Any) -> None:
        """A message we wrote to the carrier; `audio`: the base64 payload it carried, which
        joins the model track."""
        if self._done:
            return
        try:
            if audio is None:
                self._record_and_log("out", "carrier", _parse(message), **extra)
                return
            self._tracks.sent(base64.b64decode(audio))
            self._audio_out_at = len(self._events)
            self._record("out", "carrier", scrub(_parse(message)), **extra)
        except Exception:
            log.exception("call %s: recording a carrier message failed", self.call_id)

    def cleared(self, message: str) -> None:
        """We told the carrier to drop its queued audio (`message`): what we sent after
        now was never heard."""
        if self._done:
            return
        dropped = self._tracks.clear()
        self._record_and_log("out", "carrier", _parse(message), dropped_ms=dropped // BYTES_PER_MS)

    # ---- the model's side (`ModelTap`, for the model session) ----------------------------

    def to_model(self, event: dict[str, Any]) -> None:
        """A control event sent to the model."""
        if self._done:
            return
        try:
            self._record_and_log("out", "model", event)
        except Exception:
            log.exception("call %s: recording a model event failed", self.call_id)

    def to_model_audio(self, text: str) -> None:
        """Caller audio sent to the model, as the message that carried it."""
        if self._done:
            return
        try:
            self._record("out", "model", scrub(_parse(text)))
        except Exception:
            log.exception("call %s: recording a model event failed", self.call_id)

    def from_model(self, event: dict[str, Any]) -> None:
        """An event read from the model (audio deltas go through `from_model_audio`)."""
        if self._done:
            return
        try:
            self._record_and_log("in", "model", event)
        except Exception:
            log.exception("call %s: recording a model event failed", self.call_id)

    def from_model_text(self, data: object) -> None:
        """A raw message from the model (the session's first)."""
        if not self._done:
            self.from_model(_parse(data))

    def from_model_audio(self, event: dict[str, Any], forwarded: bool) -> None:
        """An audio delta from the model, its payload already a byte count; `forwarded`:
        it went on to the caller (False: dropped, e.g. a late delta of an item cut by a
        barge-in). The session tells once the relay has written it, so a forwarded delta
        is logged where it came: before the audio it became."""
        if self._done:
            return
        try:
            line = self._line("in", "model", event, {"forwarded": forwarded})
            at, self._audio_out_at = self._audio_out_at, None
            if line is None:
                return
            if forwarded and at is not None:
                self._events.insert(at, line)
            else:
                self._events.append(line)
        except Exception:
            log.exception("call %s: recording model audio failed", self.call_id)

    # ---- the end -------------------------------------------------------------------------

    async def finish(self, end_reason: str | None = None) -> Path | None:
        """Write the recording (once) and note it on the call's timeline; never raises."""
        if self._done:
            return None
        self._done = True
        tracks, events = self._tracks.take(), self._events
        self._events = []
        try:
            lines = await self._transcript()
            transcript = {"call_id": self.call_id, "end_reason": end_reason, "lines": lines}
            duration_ms = await asyncio.to_thread(
                write_recording,
                self._data_dir,
                self.call_id,
                tracks,
                events,
                transcript,
                self._secrets,
            )
        except Exception:
            log.exception("call %s: writing the debug recording failed", self.call_id)
            return None
        try:
            self._journal.event(
                "recording",
                dir=f"{RECORDINGS_DIR}/{self.call_id}",
                files=list(FILES),
                duration_ms=duration_ms,
                clipped=self.clipped,
                events=len(events),
                events_dropped=self.events_dropped,
            )
        except Exception:  # noqa: BLE001 - the store may be closing with the server
            log.warning("call %s: the recording could not be noted on the timeline", self.call_id)
        log.info("call %s: debug recording in %s", self.call_id, self.directory)
        return self.directory

    async def _transcript(self) -> list[dict[str, Any]]:
        store = self._journal.store
        try:
            await store.flush()
            lines = await store.transcript(self.call_id)
        except Exception:  # noqa: BLE001 - the recording goes on without the transcript
            log.warning("call %s: transcript unavailable for the recording", self.call_id)
            return []
        return [line.model_dump(exclude={"call_id"}) for line in lines]


def _parse(data: object) -> dict[str, Any]:
    """A message as recorded: its JSON object, or only its length when it is not one."""
    if isinstance(data, str | bytes):
        try:
            message = orjson.loads(data)
        except orjson.JSONDecodeError:
            message = None
        if isinstance(message, dict):
            return message
        return {"unparsed_chars": len(data)}
    return {"unparsed_chars": len(str(data))}


def _isatty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
