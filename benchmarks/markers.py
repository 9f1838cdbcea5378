"""Frame timing and the marker every benchmark frame carries.

Each 160-byte µ-law frame, in both directions, starts with a marker (magic, call index,
frame index) in its first 12 bytes, so the far side, in the same process and on the same
clock, can look up when that frame was sent and tell whether frames were lost or
reordered. Only those first 16 base64 characters are ever decoded: the generator has to
play 2 × N endpoints on one core and must stay cheap next to the server it measures.
"""

from __future__ import annotations

import base64
import struct
import time

FRAME_S = 0.020
# Every timestamp comes from one clock of sub-µs resolution (uvloop's loop.time() has
# only milliseconds); the event loop's clock only schedules the 20 ms ticks.
clock = time.perf_counter
FRAME_BYTES = 160

_MAGIC = b"VB"
_MARK = struct.Struct(">2sHI")  # magic, call index, frame index: 8 bytes
MARK_B64 = 16  # 12 bytes (marker + 4 filler) encode to exactly 16 base64 characters
_FILL_B64 = base64.b64encode(b"\xff" * (FRAME_BYTES - 12))


def frame_payload(call: int, seq: int) -> bytes:
    """Base64 of a 160-byte µ-law frame whose first bytes say which call and frame it is."""
    return base64.b64encode(_MARK.pack(_MAGIC, call, seq) + b"\xff\xff\xff\xff") + _FILL_B64


def read_marker(b64: bytes) -> tuple[int, int] | None:
    try:
        raw = base64.b64decode(b64[:MARK_B64])
    except ValueError:
        return None
    if len(raw) < 8 or raw[:2] != _MAGIC:
        return None
    _, call, seq = _MARK.unpack_from(raw)
    return call, seq
