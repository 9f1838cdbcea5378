"""G.711 µ-law by table (ITU-T G.711, the "bias 0x84, clip 32635" form of docs/protocols.md §5.3).

Encoding goes through a 65,536-entry table built once on first use, so a sample costs one
index; decoding through a 256-entry table. Both agree with `audioop.ulaw2lin` for decode.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from functools import cache

SILENCE = 0xFF  # µ-law code for linear 0
_BIAS = 0x84
_CLIP = 32635


def encode_sample(sample: int) -> int:
    """Reference encoder for one 16-bit sample (used to build the table)."""
    sign = 0x80 if sample < 0 else 0
    magnitude = min(-sample if sample < 0 else sample, _CLIP) + _BIAS
    exponent = magnitude.bit_length() - 8  # highest set bit position minus 7
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def decode_sample(code: int) -> int:
    u = ~code & 0xFF
    exponent = (u >> 4) & 0x07
    magnitude = ((((u & 0x0F) << 3) + _BIAS) << exponent) - _BIAS
    return -magnitude if u & 0x80 else magnitude


@cache
def _encode_table() -> bytes:
    # Index = sample & 0xFFFF (two's complement), so negative samples index the top half.
    return bytes(encode_sample(i - 65536 if i >= 32768 else i) for i in range(65536))


@cache
def _decode_table() -> tuple[int, ...]:
    return tuple(decode_sample(code) for code in range(256))


def encode(samples: Iterable[int]) -> bytes:
    """16-bit linear samples (clamped to int16) → µ-law bytes."""
    table = _encode_table()
    return bytes(table[max(-32768, min(32767, s)) & 0xFFFF] for s in samples)


def decode(data: bytes) -> array[int]:
    """µ-law bytes → 16-bit linear samples."""
    table = _decode_table()
    return array("h", (table[b] for b in data))
