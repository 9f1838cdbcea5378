"""The samples of a µ-law WAV file, read without our writer (Python's `wave` cannot read µ-law)."""

from __future__ import annotations

import struct
from pathlib import Path


def ulaw_data(path: Path) -> bytes:
    """The samples of a format-7 WAV (walks the chunks; `wave` cannot read µ-law)."""
    raw = path.read_bytes()
    assert raw[:4] == b"RIFF" and raw[8:12] == b"WAVE"
    pos, fmt, data = 12, None, None
    while pos + 8 <= len(raw):
        tag, size = raw[pos : pos + 4], struct.unpack_from("<I", raw, pos + 4)[0]
        body = raw[pos + 8 : pos + 8 + size]
        if tag == b"fmt ":
            fmt = struct.unpack_from("<HHIIHH", body)
        elif tag == b"data":
            data = body
        pos += 8 + size + (size & 1)
    assert fmt == (7, 1, 8000, 8000, 1, 8), fmt
    assert data is not None
    return data
