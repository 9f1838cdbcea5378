"""Debug recordings (`debug: true`) of a whole call: time-aligned µ-law tracks, a stereo PCM
mix, the event log and the transcript, judged from outside our code where possible (`sox
--i`, Python's `wave`, the fake carrier's log of each frame and mark echo, a DTMF decoder on
the model track); no recording without debug. Tests wait for the `recording` timeline entry.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import stat
import subprocess
import wave
from array import array
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.helpers.carriers import STREAM_WORDS, carrier_secrets, facts, stream_token
from tests.helpers.outside_judges import require_tool
from tests.helpers.phone import (
    assistant_items,
    events,
    is_dtmf_mark,
    kind,
    media_runs,
    payload_bytes,
    watch_carrier,
)
from tests.helpers.ulaw_wav import ulaw_data
from tests.helpers.world import MakeWorld
from voicecall_rt.audio import g711
from voicecall_rt.audio.goertzel import DtmfDetector
from voicecall_rt.call.journal import ALL_CALLS
from voicecall_rt.call.recording import REDACTED
from voicecall_rt.model.realtime import AUDIO_DELTA
from voicecall_rt.simulator.caller_audio import voice_audio
from voicecall_rt.simulator.scenario import CallPlan, CallTool, ModelScript, Say, Speak
from voicecall_rt.simulator.scenarios import pizza_booking
from voicecall_rt.simulator.sim_call import SimCall
from voicecall_rt.simulator.world import API_KEY, SimWorld

FRAME = 160  # bytes = samples = 20 ms
BYTES_PER_MS = 8
SILENCE = 0xFF
# Our recorder places audio by the stream clock it estimates; the fake carrier plays on a
# 20 ms grid and echoes a mark on the tick after the audio finished. Two ticks of slack
# cover both, a third covers a late event loop on a busy machine.
ALIGN_MS = 60
FILES = ("caller.wav", "model.wav", "call.wav", "events.jsonl", "transcript.json")
_B64_RUN = re.compile(r"^[A-Za-z0-9+/]{40,}={0,2}$")


# ---- helpers -------------------------------------------------------------------------------


async def _recorded_call(
    world: SimWorld, to: str, task: str
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Place a call; return (call id, the `recording` timeline entry, the settled call)."""
    queue = world.server.hub.follow(ALL_CALLS)
    try:
        call_id = await world.place(to, task)
        async with asyncio.timeout(60):
            while True:
                entry = await queue.get()
                if entry["kind"] == "recording" and entry["call_id"] == call_id:
                    break
    finally:
        world.server.hub.unfollow(queue, ALL_CALLS)
    data = await world.wait_call(call_id)
    return call_id, entry, data


def _sox_info(path: Path) -> dict[str, str]:
    sox = require_tool("sox")
    out = subprocess.run(
        [sox, "--i", str(path)], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    info = {}
    for line in out.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            info[key.strip()] = value.strip()
    return info


def _sox_samples(info: dict[str, str]) -> int:
    match = re.search(r"= (\d+) samples", info["Duration"])
    assert match, info["Duration"]
    return int(match.group(1))


def _sent_audio(sim: SimCall) -> tuple[bytes, dict[str, bytes]]:
    """What our server sent the carrier: the keypad tones, and each model item's audio."""
    tones = b""
    items: dict[str, bytes] = {}
    for name, audio in media_runs(sim):
        assert name is not None, "model audio without a mark after it"
        if is_dtmf_mark(name):
            tones += audio
        else:
            item = name.rpartition(":")[0]
            items[item] = items.get(item, b"") + audio
    return tones, items


def _last_echo_ms(sim: SimCall, prefix: str) -> int:
    """Stream ms at which the carrier echoed the last mark of that audio (it had played)."""
    echoes = [e for e in sim.mark_echoes if e.name.startswith(prefix) and not e.cleared]
    assert echoes, f"no echo for {prefix}"
    return echoes[-1].stream_ms


def _common_prefix(a: bytes, b: bytes) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _strings(value: Any) -> list[tuple[str, str]]:
    """(key, string) for every string value nested in a JSON value."""
    found: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str):
                found.append((key, item))
            else:
                found.extend(_strings(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(_strings(item) if not isinstance(item, str) else [("", item)])
    return found


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ---- the whole call ------------------------------------------------------------------------


async def test_debug_call_is_recorded_time_aligned(
    make_world: MakeWorld, carrier: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="voicecall_rt.wire")
    scenario = pizza_booking(0.3)
    world = await make_world(scenario.carrier, scenario.model, **{"debug": True})
    clear_at: list[int] = []  # the carrier's stream clock when our `clear` reached it

    def on_message(call: SimCall, message: dict[str, Any]) -> None:
        if kind(message) == "clear":
            clear_at.append(call.stream_ms)

    watch_carrier(world, on_message)
    call_id, entry, data = await _recorded_call(world, scenario.to_number, scenario.task)
    sim = await world.carrier.wait_call()
    session = world.model.last_session
    assert data["call"]["status"] == "completed"

    # ---- where and how: 0700 directories, 0600 files
    data_dir = world.server.settings.data_dir
    folder = data_dir / "recordings" / call_id
    assert entry["data"]["dir"] == f"recordings/{call_id}"
    assert sorted(p.name for p in folder.iterdir()) == sorted(FILES)
    assert _mode(data_dir / "recordings") == 0o700 and _mode(folder) == 0o700
    for name in FILES:
        assert _mode(folder / name) == 0o600, name

    # ---- the µ-law tracks, as sox sees them: same length, the stream's duration
    caller = ulaw_data(folder / "caller.wav")
    model = ulaw_data(folder / "model.wav")
    assert len(caller) == len(model)
    stream_samples = sim.stream_ms * BYTES_PER_MS
    assert abs(len(caller) - stream_samples) <= FRAME
    assert entry["data"]["duration_ms"] == len(caller) // BYTES_PER_MS
    for name in ("caller.wav", "model.wav"):
        info = _sox_info(folder / name)
        assert info["Sample Encoding"] == "8-bit u-law", info
        assert info["Sample Rate"] == "8000" and info["Channels"] == "1", info
        assert _sox_samples(info) == len(caller)
        assert abs(_sox_samples(info) - stream_samples) <= FRAME

    # ---- the stereo mix: left caller, right model, 16-bit PCM
    with wave.open(str(folder / "call.wav"), "rb") as mix:
        assert mix.getnchannels() == 2 and mix.getsampwidth() == 2
        assert mix.getframerate() == 8000 and mix.getnframes() == len(caller)
        pcm = array("h", mix.readframes(mix.getnframes()))
    assert pcm[0::2] == g711.decode(caller)
    assert pcm[1::2] == g711.decode(model)

    # ---- caller track: every frame the carrier sent, at its timestamp (or, unstamped, one
    # after another), silence between
    voice = voice_audio(FRAME // BYTES_PER_MS * sum(1 for _, v in sim.media_log if v))
    covered = bytearray([0]) * len(caller)
    spoken = 0
    stamped = facts(carrier).stamps_caller_frames
    for n, (timestamp, is_voice) in enumerate(sim.media_log):
        at = timestamp * BYTES_PER_MS if stamped else n * FRAME
        if at + FRAME > len(caller):
            assert at >= len(caller) - FRAME, "a frame was lost mid-call"
            continue  # the last frame, sent as our server was closing the stream
        frame = caller[at : at + FRAME]
        if is_voice:
            assert frame == voice[spoken * FRAME : (spoken + 1) * FRAME], timestamp
            spoken += 1
        else:
            assert frame == bytes([SILENCE]) * FRAME, timestamp
        covered[at : at + FRAME] = b"\x01" * FRAME
    assert spoken >= 5 * 50 * 0.3 * 0.9  # Maria's and the menu's lines, most of them
    assert all(b == SILENCE for b, c in zip(caller, covered, strict=True) if not c)

    # ---- model track: the keypad tones (in-band ones only: a key pressed by the carrier is
    # no audio of ours) and each answer, where the carrier played them
    tones, items = _sent_audio(sim)
    in_band = facts(carrier).keys_via == "audio"
    assert DtmfDetector().feed(model + bytes([SILENCE]) * 800) == (["1"] if in_band else [])
    assert bool(tones) == in_band
    if in_band:
        tone_at = model.find(tones)
        assert tone_at >= 0
        tone_end_ms = (tone_at + len(tones)) / BYTES_PER_MS
        assert 0 <= _last_echo_ms(sim, "dtmf-") - tone_end_ms <= ALIGN_MS
        assert set(model[:tone_at]) == {SILENCE}  # nothing before the menu's key press
    else:
        tone_at = 0

    [clear_ms] = clear_at
    [clear_index] = events(sim, "clear")
    cut_items = {
        name.rpartition(":")[0]
        for name in (e.name for e in sim.cleared_marks)
        if not is_dtmf_mark(name)
    }
    assert len(cut_items) == 1
    [cut_item] = cut_items
    played_at_clear = sim.cleared_marks[0].played_bytes
    cursor = tone_at + len(tones)
    ids = assistant_items(session)
    assert ids[0] == cut_item and all(item in items for item in ids)
    for item in ids:
        audio = items[item]
        at = model.find(audio[:800], cursor)  # its first 100 ms, after the previous audio
        assert at >= 0, f"{item} is not on the model track"
        if item == cut_item:
            # Only what played before the clear is on the track, and silence after it.
            kept = _common_prefix(model[at:], audio)
            end_ms = (at + kept) / BYTES_PER_MS
            assert abs(end_ms - clear_ms) <= ALIGN_MS
            heard = played_at_clear - len(tones)  # the carrier's count for this item
            assert abs(kept - heard) <= 2 * FRAME
            sent_before_clear = sum(
                len(payload_bytes(sim.received[i])) for i in events(sim, "media") if i < clear_index
            )
            assert kept < sent_before_clear - len(tones)  # the queued part was dropped
            after = model[at + kept : at + kept + 300 * BYTES_PER_MS]
            assert set(after) == {SILENCE}, "cut audio on the track after the clear"
            cursor = at + kept
        else:
            assert model[at : at + len(audio)] == audio, f"{item} incomplete on the track"
            end_ms = (at + len(audio)) / BYTES_PER_MS
            assert 0 <= _last_echo_ms(sim, item + ":") - end_ms <= ALIGN_MS, item
            cursor = at + len(audio)
    assert set(model[cursor:]) <= {SILENCE}  # nothing after the goodbye

    # ---- the event log: every exchange, no audio payload, no secret
    text = (folder / "events.jsonl").read_text()
    records = [orjson.loads(line) for line in text.splitlines()]
    assert entry["data"]["events"] == len(records) and entry["data"]["events_dropped"] == 0
    kinds = {
        (r["dir"], r["peer"], r["event"].get("type") or r["event"].get("event")) for r in records
    }
    words = STREAM_WORDS[carrier]
    for expected in [
        ("in", "model", "session.created"),
        ("out", "model", "session.update"),
        ("in", "carrier", words.start),
        ("in", "carrier", words.caller_media),
        ("out", "model", "input_audio_buffer.append"),
        ("in", "model", "input_audio_buffer.speech_started"),
        ("in", "model", AUDIO_DELTA),
        ("out", "carrier", words.our_media),
        ("out", "carrier", words.our_mark),
        ("in", "carrier", words.mark_played),
        ("out", "carrier", words.our_clear),
        ("out", "model", "conversation.item.truncate"),
        ("in", "model", "response.function_call_arguments.done"),
        ("out", "model", "response.create"),
    ]:
        assert expected in kinds, expected
    assert all(isinstance(r["t_ms"], int) for r in records)
    carrier_media = [r for r in records if r["peer"] == "carrier" and r["dir"] == "in"]
    carrier_media = [
        r["event"] for r in carrier_media if r["event"].get("event") == words.caller_media
    ]
    assert len(carrier_media) == sim.media_sent or len(carrier_media) == sim.media_sent - 1
    assert all(m["media"]["payload_bytes"] == FRAME for m in carrier_media)
    deltas = [r["event"] for r in records if r["event"].get("type") == AUDIO_DELTA]
    sent_deltas = [e for e in session.sent if e["type"] == AUDIO_DELTA]
    assert len(deltas) == len(sent_deltas)
    assert [d["delta_bytes"] for d in deltas] == [
        len(base64.b64decode(e["delta"])) for e in sent_deltas
    ]
    out_media = [
        r for r in records if r["dir"] == "out" and r["event"].get("event") == words.our_media
    ]
    assert sum(r["event"]["media"]["payload_bytes"] for r in out_media) == sum(
        len(payload_bytes(sim.received[i])) for i in events(sim, "media")
    )
    [start] = [r["event"] for r in records if r["event"].get("event") == words.start]
    assert REDACTED in orjson.dumps(start).decode()  # the stream token, wherever it rides

    assert sim.start_message is not None
    call_token = stream_token(carrier, sim.start_message)
    assert call_token
    secrets = {
        **carrier_secrets(carrier),
        "OpenAI key": API_KEY,
        "API token": world.server.api_token,
        "stream token": call_token,
        "stream token secret": call_token.partition(".")[2],
    }
    transcript_text = (folder / "transcript.json").read_text()
    wire_text = "\n".join(r.getMessage() for r in caplog.records if r.name == "voicecall_rt.wire")
    for name, secret in secrets.items():
        assert secret not in text, f"{name} in events.jsonl"
        assert secret not in transcript_text, f"{name} in transcript.json"
        assert secret not in wire_text, f"{name} in the wire log"
    for record in records:
        for key, value in _strings(record):
            assert key not in ("payload", "audio", "delta") or not _B64_RUN.match(value), record
            assert not _B64_RUN.match(value), f"base64 in events.jsonl: {key}={value[:40]}…"
    assert sent_deltas[0]["delta"] not in text
    assert base64.b64encode(voice[:FRAME]).decode() not in text

    # ---- the transcript, as the call's own record has it
    transcript = orjson.loads(transcript_text)
    assert transcript["call_id"] == call_id
    assert transcript["end_reason"] == data["call"]["end_reason"]
    assert [(x["role"], x["text"], x["interrupted"]) for x in transcript["lines"]] == [
        (x["role"], x["text"], x["interrupted"]) for x in data["transcript"]
    ]

    # ---- the wire log: events, never audio frames, no colours off a TTY
    assert "session.update" in wire_text and "clear" in wire_text
    assert "payload_bytes" not in wire_text and "delta_bytes" not in wire_text
    assert "input_audio_buffer.append" not in wire_text
    assert "\x1b[" not in wire_text


async def test_no_recording_without_debug(
    make_world: MakeWorld, carrier: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="voicecall_rt.wire")
    plan = CallPlan(ring_ms=100, answered_by=None, callee=(Speak("Hello?", 300),))
    script = ModelScript(
        turns=((Say("Hi, bye now.", 300), CallTool("end_call", {"reason": "done"})),)
    )
    world = await make_world(plan, script)
    assert world.server.settings.debug is False
    call_id = await world.place("+14155550123", "Say hello.")
    data = await world.wait_call(call_id)
    assert data["call"]["status"] == "completed"
    assert "recording" not in [e["kind"] for e in data["events"]]
    assert not (world.server.settings.data_dir / "recordings").exists()
    assert not [r for r in caplog.records if r.name == "voicecall_rt.wire"]
