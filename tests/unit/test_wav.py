"""WAV containers (docs/protocols.md §5.4) and owner-only file writing."""

from __future__ import annotations

import io
import os
import stat
import struct
import subprocess
import sys
import wave
from array import array
from pathlib import Path

import pytest

from tests.helpers.outside_judges import require_tool
from voicecall_rt.audio import dtmf, g711, wav
from voicecall_rt.private_files import write_private


def _chunks(data: bytes) -> dict[bytes, bytes]:
    """Parse RIFF chunks independently of the writer, checking sizes and padding on the way."""
    assert data[:4] == b"RIFF"
    assert data[8:12] == b"WAVE"
    (riff_size,) = struct.unpack("<I", data[4:8])
    assert riff_size == len(data) - 8
    chunks: dict[bytes, bytes] = {}
    pos = 12
    while pos < len(data):
        tag = data[pos : pos + 4]
        (size,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        chunks[tag] = data[pos + 8 : pos + 8 + size]
        pos += 8 + size + (size % 2)
    assert pos == len(data)
    return chunks


# --- µ-law WAV ---------------------------------------------------------------------------------


def test_ulaw_wav_layout() -> None:
    payload = dtmf.tone_audio("123")
    data = wav.ulaw_wav_bytes(payload)
    chunks = _chunks(data)
    assert list(chunks) == [b"fmt ", b"fact", b"data"]
    assert struct.unpack("<HHIIHHH", chunks[b"fmt "]) == (7, 1, 8000, 8000, 1, 8, 0)
    assert struct.unpack("<I", chunks[b"fact"]) == (len(payload),)
    assert chunks[b"data"] == payload
    assert len(data) == 12 + (8 + 18) + (8 + 4) + (8 + len(payload))


def test_ulaw_wav_odd_length_is_padded() -> None:
    data = wav.ulaw_wav_bytes(b"\x01\x02\x03")
    assert _chunks(data)[b"data"] == b"\x01\x02\x03"
    assert data.endswith(b"\x03\x00")


def test_ulaw_wav_empty() -> None:
    chunks = _chunks(wav.ulaw_wav_bytes(b""))
    assert chunks[b"data"] == b""
    assert struct.unpack("<I", chunks[b"fact"]) == (0,)


def test_stdlib_wave_cannot_read_format_7() -> None:
    # Documents why the header is hand-built (and fails loudly if `wave` ever learns it).
    with (
        pytest.raises(wave.Error, match="unknown format: 7"),
        wave.open(io.BytesIO(wav.ulaw_wav_bytes(b"\xff" * 8))),
    ):
        pass


def test_sox_reads_ulaw_wav(tmp_path: Path) -> None:
    sox = require_tool("sox")
    payload = dtmf.tone_audio("1w2,3#")  # 13760 bytes = 1.72 s
    path = tmp_path / "call.wav"
    path.write_bytes(wav.ulaw_wav_bytes(payload))

    def info(flag: str) -> str:
        out = subprocess.run(
            [sox, "--i", flag, str(path)], capture_output=True, text=True, timeout=30, check=True
        )
        return out.stdout.strip()

    assert info("-r") == "8000"
    assert info("-c") == "1"
    assert info("-e") == "u-law"
    assert info("-s") == str(len(payload))
    assert float(info("-D")) == pytest.approx(len(payload) / 8000)

    # sox's own µ-law decoder must give back exactly our samples.
    decoded = subprocess.run(
        [sox, "-D", str(path), "-t", "raw", "-e", "signed-integer", "-b", "16", "-L", "-"],
        capture_output=True,
        timeout=30,
        check=True,
    ).stdout
    samples = array("h", decoded)
    if sys.byteorder == "big":
        samples.byteswap()
    assert samples == g711.decode(payload)


# --- PCM WAV -----------------------------------------------------------------------------------


def test_pcm_wav_opens_with_wave() -> None:
    samples = g711.decode(dtmf.tone_audio("9"))
    with wave.open(io.BytesIO(wav.pcm16_wav_bytes(samples))) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 8000)
        assert w.getnframes() == len(samples)
        frames = w.readframes(w.getnframes())
    back = array("h", frames)
    if sys.byteorder == "big":
        back.byteswap()
    assert back == samples


def test_pcm_wav_stereo_interleaved() -> None:
    left, right = [1, 2, 3], [-1, -2, -3]
    interleaved = array("h", [s for pair in zip(left, right, strict=True) for s in pair])
    with wave.open(io.BytesIO(wav.pcm16_wav_bytes(interleaved, channels=2))) as w:
        assert (w.getnchannels(), w.getnframes(), w.getframerate()) == (2, 3, 8000)
        frames = w.readframes(3)
    assert struct.unpack("<6h", frames) == (1, -1, 2, -2, 3, -3)


def test_pcm_wav_accepts_little_endian_bytes() -> None:
    raw = struct.pack("<3h", 100, -200, 300)
    chunks = _chunks(wav.pcm16_wav_bytes(raw))
    assert chunks[b"data"] == raw
    assert struct.unpack("<HHIIHH", chunks[b"fmt "]) == (1, 1, 8000, 16000, 2, 16)


@pytest.mark.parametrize(
    ("samples", "channels", "message"),
    [
        (b"\x00\x00\x00", 1, "whole number"),
        (array("h", [1, 2, 3]), 2, "whole number"),
        (array("h", [1]), 3, "channels"),
        (array("i", [1]), 1, "array"),
    ],
)
def test_pcm_wav_rejects_bad_input(
    samples: array[int] | bytes, channels: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        wav.pcm16_wav_bytes(samples, channels=channels)


# --- private files -----------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_write_private_creates_0600_file_in_0700_dirs(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "call.wav"
    write_private(target, b"data")
    assert target.read_bytes() == b"data"
    assert _mode(target) == 0o600
    assert _mode(tmp_path / "a") == 0o700
    assert _mode(tmp_path / "a" / "b") == 0o700


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_write_private_tightens_and_truncates_existing_file(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    target = tmp_path / "call.wav"
    target.write_bytes(b"old and longer")
    target.chmod(0o644)
    write_private(target, b"new")
    assert target.read_bytes() == b"new"
    assert _mode(target) == 0o600
    assert _mode(tmp_path) == 0o700  # a private file lives in a private directory


@pytest.mark.skipif(not hasattr(os, "O_NOFOLLOW"), reason="needs O_NOFOLLOW")
def test_write_private_refuses_symlink(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep")
    link = tmp_path / "call.wav"
    link.symlink_to(victim)
    with pytest.raises(OSError):
        write_private(link, b"overwrite")
    assert victim.read_bytes() == b"keep"
