"""WAV containers for call recordings and debugging dumps (docs/protocols.md §5.4).

µ-law WAV keeps the call's bytes untouched (half the size of PCM, no transcoding loss) but
Python's `wave` cannot write format 7, hence the hand-built header. PCM16 WAV is for tools
and people that do not speak µ-law. Recordings hold personal data, so files are written
owner-only.
"""

from __future__ import annotations

import struct
import sys
from array import array
from typing import Final

WAVE_FORMAT_PCM: Final = 1
WAVE_FORMAT_MULAW: Final = 7
SAMPLE_RATE: Final = 8000
# RIFF sizes are unsigned 32-bit; leave room for the headers.
_MAX_DATA: Final = 0xFFFFFFFF - 64


def _chunk(tag: bytes, payload: bytes) -> bytes:
    """One RIFF chunk; odd-sized payloads get the pad byte RIFF readers expect."""
    pad = b"\x00" if len(payload) % 2 else b""
    return tag + struct.pack("<I", len(payload)) + payload + pad


def _riff(*chunks: bytes) -> bytes:
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _check_size(data: bytes) -> None:
    if len(data) > _MAX_DATA:
        raise ValueError(f"audio too large for a WAV file: {len(data)} bytes")


def ulaw_wav_bytes(ulaw: bytes) -> bytes:
    """8 kHz mono µ-law WAV around `ulaw`, unchanged."""
    _check_size(ulaw)
    # Non-PCM formats need the 18-byte fmt (with cbSize) and a fact chunk per the RIFF spec;
    # some players refuse the file without them.
    fmt = struct.pack("<HHIIHHH", WAVE_FORMAT_MULAW, 1, SAMPLE_RATE, SAMPLE_RATE, 1, 8, 0)
    fact = struct.pack("<I", len(ulaw))
    return _riff(_chunk(b"fmt ", fmt), _chunk(b"fact", fact), _chunk(b"data", ulaw))


def _pcm_le_bytes(samples: array[int] | bytes) -> bytes:
    """Little-endian int16 bytes; `bytes` input is taken as already in that form."""
    if isinstance(samples, bytes):
        return samples
    if samples.typecode != "h":
        raise ValueError(f"expected array('h'), got array({samples.typecode!r})")
    if sys.byteorder == "little":
        return samples.tobytes()
    swapped = array("h", samples)
    swapped.byteswap()
    return swapped.tobytes()


def pcm16_wav_bytes(
    samples: array[int] | bytes, channels: int = 1, *, sample_rate: int = SAMPLE_RATE
) -> bytes:
    """16-bit PCM WAV. With channels=2, `samples` must already be interleaved L, R, L, R…"""
    if channels not in (1, 2):
        raise ValueError(f"channels must be 1 or 2, got {channels}")
    if not 1 <= sample_rate <= 192_000:
        raise ValueError(f"sample_rate out of range: {sample_rate}")
    data = _pcm_le_bytes(samples)
    block_align = 2 * channels
    if len(data) % block_align:
        raise ValueError(f"{len(data)} bytes is not a whole number of {channels}-channel frames")
    _check_size(data)
    byte_rate = sample_rate * block_align
    fmt = struct.pack("<HHIIHH", WAVE_FORMAT_PCM, channels, sample_rate, byte_rate, block_align, 16)
    return _riff(_chunk(b"fmt ", fmt), _chunk(b"data", data))
