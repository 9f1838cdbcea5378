"""Debug recordings of one call (`debug: true` only; the bridge makes no recorder otherwise).

What the caller said and what we sent them, each as a time-aligned µ-law track on the
caller's stream clock, plus every event the bridge exchanged with the model and the carrier.

- Caller track: each inbound `media` frame is placed at its stream timestamp (ms since the
  stream started, 8 bytes per ms); gaps are µ-law silence, so the track keeps real time.
- Model track: what we sent the carrier (model audio deltas, keypad tones), placed where it
  would play: right after the previous outbound audio, but never before the moment it was
  sent. "Now" on the stream clock is the last inbound timestamp plus the monotonic time
  since that frame arrived. A `clear` drops the outbound audio after "now": it was never
  heard.
- Both tracks stop at `calls.maxDurationSeconds` of audio (a forged timestamp cannot make
  us allocate more), and the event log at EVENT_LOG_MAX_BYTES.
- At the end of the call, under `<data_dir>/recordings/<call_id>/` (0700, files 0600):
  `caller.wav` and `model.wav` (µ-law, format 7, same length), `call.wav` (16-bit PCM
  stereo: left caller, right model), `events.jsonl` and `transcript.json`. Written in a
  worker thread, never on the event loop.

The event log holds no audio (payloads become byte counts) and no secret: keys that name a
credential (the stream's `call_token`, …) are redacted, and so is any occurrence of the
configured API key, the Twilio auth token, the local API token and the stream token.
Non-audio events also go to the `voicecall_rt.wire` logger at DEBUG, coloured on a TTY.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import sys
import time
from array import array
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Final

import orjson

from voicecall_rt.audio import g711
from voicecall_rt.audio.dtmf import frames
from voicecall_rt.audio.wav import pcm16_wav_bytes, ulaw_wav_bytes
from voicecall_rt.call.journal import CallJournal
from voicecall_rt.call.playback import b64_decoded_len
from voicecall_rt.carrier.base import StreamStart
from voicecall_rt.config import Settings
from voicecall_rt.private_files import ensure_private_dir, read_api_token, write_private

log = logging.getLogger(__name__)
wire_log = logging.getLogger("voicecall_rt.wire")

RECORDINGS_DIR: Final = "recordings"
CALLER_WAV: Final = "caller.wav"
MODEL_WAV: Final = "model.wav"
CALL_WAV: Final = "call.wav"
EVENTS_FILE: Final = "events.jsonl"
TRANSCRIPT_FILE: Final = "transcript.json"
FILES: Final = (CALLER_WAV, MODEL_WAV, CALL_WAV, EVENTS_FILE, TRANSCRIPT_FILE)

BYTES_PER_MS: Final = 8
EVENT_LOG_MAX_BYTES: Final = 64 * 1024 * 1024
LOG_LINE_MAX: Final = 2000  # characters of one event shown on the wire logger
REDACTED: Final = "[redacted]"
_SILENCE: Final = bytes([g711.SILENCE])
# Keys whose value is a credential wherever they appear (compared lower-cased). Usage
# counters such as `input_tokens` are not credentials and are not listed.
_SECRET_KEYS: Final = frozenset(
    {
        "call_token",
        "token",
        "api_key",
        "apikey",
        "auth_token",
        "authtoken",
        "authorization",
        "client_secret",
        "secret",
        "password",
    }
)
# Keys that carry base64 audio: kept out of the log, replaced by `<key>_bytes`.
_AUDIO_KEYS: Final = frozenset({"audio", "payload"})

_RESET: Final = "\x1b[0m"
_COLOURS: Final = {
    ("in", "carrier"): "\x1b[33m",  # yellow
    ("out", "carrier"): "\x1b[32m",  # green
    ("in", "model"): "\x1b[36m",  # cyan
    ("out", "model"): "\x1b[35m",  # magenta
}
_ARROWS: Final = {"in": "←", "out": "→"}


def scrub(value: Any) -> Any:
    """A copy of a JSON value with credentials redacted and base64 audio replaced by its
    byte count (the value itself is left untouched)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = str(key)
            if name.lower() in _SECRET_KEYS:
                out[name] = REDACTED
            elif name in _AUDIO_KEYS and isinstance(item, str):
                out[name + "_bytes"] = b64_decoded_len(item)
            else:
                out[name] = scrub(item)
        return out
    if isinstance(value, list):
        return [scrub(item) for item in value]
    return value


def redact_text(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, REDACTED)
    return text


class CallRecorder:
    """One call's debug recording. Every method is safe to call at any time and never
    raises into the bridge; after `finish()` the recorder ignores everything."""

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
        self._clock = clock
        self._cap = settings.calls.max_duration_seconds * 8000  # bytes of audio per track
        self._caller = bytearray()
        self._model = bytearray()
        self.clipped = False  # audio past the cap was dropped
        # Stream clock: stream byte offset `_anchor` was "now" at monotonic `_anchor_at`.
        self._anchor: int | None = None
        self._anchor_at = 0.0
        self._stream_sid = ""
        self._events: list[bytes] = []
        self._events_bytes = 0
        self.events_dropped = 0
        secrets = {settings.openai.api_key, settings.twilio.auth_token}
        self._secrets: set[str] = {s.get_secret_value() for s in secrets if s is not None}
        self._secrets.discard("")
        self._colour = _isatty()
        self._done = False

    # ---- the stream clock ----------------------------------------------------------------

    def _now_bytes(self) -> int | None:
        """Now on the caller's stream clock, in bytes (8 per ms); None before the stream."""
        if self._anchor is None:
            return None
        return self._anchor + round((self._clock() - self._anchor_at) * 8000)

    # ---- audio -----------------------------------------------------------------------------

    def _place(self, track: bytearray, pos: int, audio: bytes) -> None:
        room = self._cap - pos
        if room <= 0:
            self.clipped = True
            return
        if len(audio) > room:
            audio = audio[:room]
            self.clipped = True
        if pos > len(track):
            track += _SILENCE * (pos - len(track))
        track[pos : pos + len(audio)] = audio

    def _caller_audio(self, timestamp: object, audio: bytes) -> None:
        try:
            ms = int(str(timestamp))
        except ValueError:
            ms = -1
        if ms < 0:
            pos = len(self._caller)  # no usable timestamp: right after the previous frame
        else:
            pos = ms * BYTES_PER_MS
            if pos < self._cap:  # a forged far-future stamp does not move the clock
                self._anchor, self._anchor_at = pos, self._clock()
        self._place(self._caller, pos, audio)

    def _outbound_audio(self, audio: bytes) -> None:
        now = self._now_bytes()
        track = self._model
        self._place(track, len(track) if now is None else max(len(track), now), audio)

    # ---- the event log ---------------------------------------------------------------------

    def _record(self, direction: str, peer: str, event: Any, **extra: Any) -> bytes | None:
        now = self._now_bytes()
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
        self._events.append(line)
        self._events_bytes += len(line) + 1
        return line

    def _record_and_log(self, direction: str, peer: str, event: Any, **extra: Any) -> None:
        """A rare (non-audio) event: logged as well, scrubbed of secrets."""
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

    # ---- hooks for the bridge --------------------------------------------------------------

    def stream_started(self, start: StreamStart) -> None:
        """The carrier's `start`: the stream clock begins (stream ms 0 is now)."""
        if self._done:
            return
        self._anchor, self._anchor_at = 0, self._clock()
        self._stream_sid = start.stream_id
        token = start.token
        if token:
            # `<call id>.<secret>`: the call id is no secret, the rest and the whole are.
            self._secrets.add(token)
            secret = token.partition(".")[2]
            if secret:
                self._secrets.add(secret)
        self._record_and_log(
            "in",
            "carrier",
            {
                "event": "start",
                "streamSid": start.stream_id,
                "start": {
                    "streamSid": start.stream_id,
                    "callSid": start.call_sid,
                    "customParameters": dict(start.custom),
                },
            },
        )

    def from_carrier_text(self, data: str | bytes, model_ready: bool) -> None:
        """A message read from the carrier, as it came (see `from_carrier`)."""
        try:
            frame = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        if isinstance(frame, dict) and "event" in frame:
            self.from_carrier(frame, model_ready)

    def from_carrier(self, frame: dict[str, Any], model_ready: bool) -> None:
        """A frame read from the carrier; a `media` frame's audio joins the caller track
        (and, with the model ready, it goes on as `input_audio_buffer.append`)."""
        if self._done:
            return
        try:
            if frame.get("event") != "media":
                self._record_and_log("in", "carrier", frame)
                return
            media = frame.get("media")
            payload = media.get("payload") if isinstance(media, dict) else None
            if not isinstance(media, dict) or not isinstance(payload, str):
                self._record_and_log("in", "carrier", frame)
                return
            try:
                audio = base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError):
                self._record_and_log("in", "carrier", frame, bad_payload=True)
                return
            self._caller_audio(media.get("timestamp"), audio)
            self._record("in", "carrier", scrub(frame))
            if model_ready:
                self._record(
                    "out",
                    "model",
                    {"type": "input_audio_buffer.append", "audio_bytes": len(audio)},
                )
        except Exception:
            log.exception("call %s: recording a carrier frame failed", self.call_id)

    def appends_flushed(self, payloads: Iterable[str]) -> None:
        """Caller audio that waited for the model session, sent now in order."""
        if self._done:
            return
        for payload in payloads:
            self._record(
                "out",
                "model",
                {"type": "input_audio_buffer.append", "audio_bytes": b64_decoded_len(payload)},
                buffered=True,
            )

    def from_model(self, event: dict[str, Any]) -> None:
        """A server event read from the model (audio deltas go through `model_audio`)."""
        if self._done:
            return
        try:
            self._record_and_log("in", "model", event)
        except Exception:
            log.exception("call %s: recording a model event failed", self.call_id)

    def from_model_text(self, data: object) -> None:
        """A raw text message from the model (the session's first)."""
        try:
            event = orjson.loads(data) if isinstance(data, str | bytes) else None
        except orjson.JSONDecodeError:
            event = None
        if isinstance(event, dict):
            self.from_model(event)
        elif not self._done:
            self._record_and_log("in", "model", {"unparsed_chars": len(str(data))})

    def to_model(self, event: dict[str, Any]) -> None:
        """A client event sent to the model (not the caller-audio appends)."""
        if self._done:
            return
        try:
            self._record_and_log("out", "model", event)
        except Exception:
            log.exception("call %s: recording a model event failed", self.call_id)

    def model_audio(self, event: object, mark: str | None) -> None:
        """A model audio delta: forwarded to the carrier as one `media` message and then
        `mark` (None: it was dropped, e.g. a late delta of an item cut by a barge-in)."""
        if self._done or not isinstance(event, dict):
            return
        try:
            delta = event.get("delta")
            compact = {k: v for k, v in event.items() if k != "delta"}
            compact["delta_bytes"] = b64_decoded_len(delta) if isinstance(delta, str) else 0
            self._record("in", "model", compact, forwarded=mark is not None)
            if mark is None or not isinstance(delta, str):
                return
            audio = base64.b64decode(delta)
            self._outbound_audio(audio)
            self._record(
                "out",
                "carrier",
                {
                    "event": "media",
                    "streamSid": self._stream_sid,
                    "media": {"payload_bytes": len(audio)},
                },
            )
            self._record_and_log("out", "carrier", self._mark(mark))
        except Exception:
            log.exception("call %s: recording model audio failed", self.call_id)

    def sent_tones(self, audio: bytes, mark: str) -> None:
        """Keypad tones sent as `media` frames (as `dtmf.frames` cuts them), then their `mark`."""
        if self._done:
            return
        for frame in frames(audio):
            self._outbound_audio(frame)
            self._record(
                "out",
                "carrier",
                {
                    "event": "media",
                    "streamSid": self._stream_sid,
                    "media": {"payload_bytes": len(frame)},
                },
                dtmf=True,
            )
        self._record_and_log("out", "carrier", self._mark(mark))

    def sent_mark(self, name: str) -> None:
        if not self._done:
            self._record_and_log("out", "carrier", self._mark(name))

    def cleared(self) -> None:
        """We sent the carrier `clear`: outbound audio after now was never heard."""
        if self._done:
            return
        now = self._now_bytes()
        dropped = 0
        if now is not None and len(self._model) > now:
            dropped = len(self._model) - now
            del self._model[now:]
        self._record_and_log(
            "out",
            "carrier",
            {"event": "clear", "streamSid": self._stream_sid},
            dropped_ms=dropped // BYTES_PER_MS,
        )

    def _mark(self, name: str) -> dict[str, Any]:
        return {"event": "mark", "streamSid": self._stream_sid, "mark": {"name": name}}

    # ---- the end -------------------------------------------------------------------------

    async def finish(self, end_reason: str | None = None) -> Path | None:
        """Write the recording (once) and note it on the call's timeline; never raises."""
        if self._done:
            return None
        self._done = True
        caller, model, events = self._caller, self._model, self._events
        self._caller, self._model, self._events = bytearray(), bytearray(), []
        try:
            transcript = await self._transcript()
            summary = await asyncio.to_thread(
                self._write, caller, model, events, transcript, end_reason
            )
        except Exception:
            log.exception("call %s: writing the debug recording failed", self.call_id)
            return None
        try:
            self._journal.event("recording", **summary)
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

    def _write(
        self,
        caller: bytearray,
        model: bytearray,
        events: list[bytes],
        transcript: list[dict[str, Any]],
        end_reason: str | None,
    ) -> dict[str, Any]:
        """In a worker thread: the five files, owner-only."""
        ensure_private_dir(self._data_dir / RECORDINGS_DIR)
        directory = ensure_private_dir(self.directory)
        length = max(len(caller), len(model))
        caller += _SILENCE * (length - len(caller))
        model += _SILENCE * (length - len(model))
        write_private(directory / CALLER_WAV, ulaw_wav_bytes(bytes(caller)))
        write_private(directory / MODEL_WAV, ulaw_wav_bytes(bytes(model)))
        stereo = array("h", bytes(4 * length))
        stereo[0::2] = g711.decode(bytes(caller))
        stereo[1::2] = g711.decode(bytes(model))
        write_private(directory / CALL_WAV, pcm16_wav_bytes(stereo, channels=2))

        secrets = set(self._secrets)
        api_token = read_api_token(self._data_dir)
        if api_token:
            secrets.add(api_token)
        text = b"\n".join(events) + b"\n" if events else b""
        for secret in secrets:
            text = text.replace(secret.encode(), REDACTED.encode())
        write_private(directory / EVENTS_FILE, text)
        transcript_doc = {"call_id": self.call_id, "end_reason": end_reason, "lines": transcript}
        raw = redact_text(
            orjson.dumps(transcript_doc, option=orjson.OPT_INDENT_2).decode(), secrets
        )
        write_private(directory / TRANSCRIPT_FILE, raw.encode() + b"\n")
        return {
            "dir": f"{RECORDINGS_DIR}/{self.call_id}",
            "files": list(FILES),
            "duration_ms": length // BYTES_PER_MS,
            "clipped": self.clipped,
            "events": len(events),
            "events_dropped": self.events_dropped,
        }


def _isatty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
