"""The debug recorder on its own clock, handed what went over the wire as the bridge, the
relay and the model session hand it over: tracks placed by the stream clock (gaps, queued
and cleared audio, dropped deltas), capped at the longest call, and the wire log redacted
and coloured on a TTY.
"""

from __future__ import annotations

import base64
import logging
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.helpers.ulaw_wav import ulaw_data
from voicecall_rt.call import recording
from voicecall_rt.call.recording import REDACTED, CallRecorder
from voicecall_rt.carrier.twilio.wire import TwilioStreamCodec, TwilioStreamWriter
from voicecall_rt.config import Settings
from voicecall_rt.model.realtime import AUDIO_DELTA
from voicecall_rt.model.realtime_session import audio_delta_record

FRAME = 160  # bytes = samples = 20 ms
BYTES_PER_MS = 8
SILENCE = 0xFF


class _Store:
    async def flush(self) -> None:
        return None

    async def transcript(self, call_id: str) -> list[Any]:
        return []


class _Journal:
    def __init__(self) -> None:
        self.store = _Store()
        self.events: list[tuple[str, dict[str, Any]]] = []

    def t_ms(self) -> int:
        return 0

    def event(self, kind: str, **data: Any) -> None:
        self.events.append((kind, data))


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _recorder(tmp_path: Path, clock: _Clock, max_s: int = 60) -> tuple[CallRecorder, _Journal]:
    settings = Settings.model_validate(
        {
            "dataDir": str(tmp_path / "data"),
            "debug": True,
            "openai": {"apiKey": "sk-unit-secret-key"},
            "calls": {"maxDurationSeconds": max_s},
        }
    )
    journal = _Journal()
    recorder = CallRecorder(
        call_id="call_unit",
        settings=settings,
        journal=journal,  # type: ignore[arg-type]
        clock=clock,
    )
    return recorder, journal


# The recorder is handed what went over the wire, as the bridge, the relay and the model
# session hand it over: the carrier's messages with what its codec read in them, ours with
# the audio they carried, and the model's audio deltas once relayed or dropped.
_CODEC = TwilioStreamCodec()
_STREAM_SID = "MZ" + "0" * 32


def _start(recorder: CallRecorder, token: str = "call_unit.s3cr3t-stream-token-value") -> None:
    message = orjson.dumps(
        {
            "event": "start",
            "start": {
                "streamSid": _STREAM_SID,
                "callSid": "CA" + "1" * 32,
                "customParameters": {"call_token": token},
            },
        }
    ).decode()
    start = _CODEC.read_start(message)
    assert start is not None
    recorder.stream_started(start, message, _CODEC)


def _media(recorder: CallRecorder, timestamp: str, audio: bytes) -> None:
    message = orjson.dumps(
        {
            "event": "media",
            "media": {
                "track": "inbound",
                "timestamp": timestamp,
                "payload": base64.b64encode(audio).decode(),
            },
        }
    ).decode()
    recorder.from_carrier(message, *_CODEC.read(message))


def _model_audio(recorder: CallRecorder, audio: bytes, mark: str | None) -> None:
    """A model delta written to the carrier as `media` + `mark` (None: dropped)."""
    delta = base64.b64encode(audio).decode()
    if mark is not None:
        writer = TwilioStreamWriter(_STREAM_SID)
        recorder.to_carrier(writer.media(delta), delta)
        recorder.to_carrier(writer.mark(mark))
    event = {"type": AUDIO_DELTA, "item_id": "i1", "delta": delta}
    recorder.from_model_audio(audio_delta_record(event), mark is not None)


async def test_tracks_follow_the_stream_clock(tmp_path: Path) -> None:
    clock = _Clock()
    recorder, journal = _recorder(tmp_path, clock)
    _start(recorder)
    caller_frame = bytes([0x10]) * FRAME
    # Frames at 0 ms and 100 ms (four lost in between), the second arriving 100 ms later.
    _media(recorder, "0", caller_frame)
    clock.now += 0.1
    _media(recorder, "100", caller_frame)
    # Model audio sent 50 ms after that frame arrived: plays from stream 150 ms on.
    clock.now += 0.05
    answer = bytes([0x20]) * 800  # 100 ms
    _model_audio(recorder, answer, "i1:800")
    # Sent at once after it: queued behind it, not on top of it.
    _model_audio(recorder, answer, "i1:1600")
    # 120 ms later (stream 270 ms) the callee barges in: what had not played is dropped.
    clock.now += 0.12
    recorder.cleared(TwilioStreamWriter(_STREAM_SID).clear)
    # A late delta of the cut item is dropped by the bridge: logged, never on the track.
    _model_audio(recorder, answer, None)
    path = await recorder.finish("test")
    assert path == tmp_path / "data" / "recordings" / "call_unit"

    caller = ulaw_data(path / "caller.wav")
    model = ulaw_data(path / "model.wav")
    assert len(caller) == len(model) == 270 * BYTES_PER_MS
    assert caller[:FRAME] == caller_frame
    assert set(caller[FRAME : 100 * BYTES_PER_MS]) == {SILENCE}
    assert caller[800 : 800 + FRAME] == caller_frame
    assert set(caller[800 + FRAME :]) == {SILENCE}
    assert set(model[: 150 * BYTES_PER_MS]) == {SILENCE}
    assert model[150 * BYTES_PER_MS :] == bytes([0x20]) * (120 * BYTES_PER_MS)

    [(kind, summary)] = journal.events
    assert kind == "recording" and summary["duration_ms"] == 270 and not summary["clipped"]
    records = [orjson.loads(x) for x in (path / "events.jsonl").read_text().splitlines()]
    [cleared] = [r for r in records if r["event"].get("event") == "clear"]
    assert cleared["dropped_ms"] == 80 and cleared["stream_ms"] == 270
    late = [r for r in records if r["event"].get("type") == AUDIO_DELTA]
    assert [r["forwarded"] for r in late] == [True, True, False]
    assert all(r["event"]["delta_bytes"] == 800 and "delta" not in r["event"] for r in late)
    text = (path / "events.jsonl").read_text()
    assert "s3cr3t-stream-token-value" not in text and REDACTED in text
    # After finish the recorder ignores everything and writes nothing twice.
    _media(recorder, "300", caller_frame)
    assert await recorder.finish("again") is None


async def test_tracks_are_capped_at_the_longest_call(tmp_path: Path) -> None:
    clock = _Clock()
    recorder, _ = _recorder(tmp_path, clock, max_s=1)
    _start(recorder)
    frame = bytes([0x10]) * FRAME
    _media(recorder, "990", frame)  # half of it fits
    _media(recorder, "999999999999", frame)  # a forged stamp
    _media(recorder, "not a number", frame)
    path = await recorder.finish(None)
    assert path is not None
    caller = ulaw_data(path / "caller.wav")
    assert len(caller) == 8000
    assert caller[-80:] == frame[:80]
    assert recorder.clipped


def test_wire_log_redacts_and_colours_on_a_tty(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG, logger="voicecall_rt.wire")
    monkeypatch.setattr(recording, "_isatty", lambda: True)
    recorder, _ = _recorder(tmp_path, _Clock())
    _start(recorder)
    recorder.to_model({"type": "session.update", "note": "key sk-unit-secret-key", "token": "x"})
    _media(recorder, "0", bytes(FRAME))  # audio: not logged
    messages = [r.getMessage() for r in caplog.records if r.name == "voicecall_rt.wire"]
    assert len(messages) == 2
    assert all("\x1b[" in m and "\x1b[0m" in m for m in messages)
    joined = "\n".join(messages)
    assert "sk-unit-secret-key" not in joined and "s3cr3t-stream-token-value" not in joined
    assert '"token":"[redacted]"' in joined
    assert not (tmp_path / "data").exists()  # nothing on disk before the end of the call
