"""The call timeline shows keys a carrier pressed itself (Telnyx's `send_dtmf`: a `dtmf`
event with `via` and no audio length) as well as keypad tones in our audio."""

from __future__ import annotations

import io

from rich.console import Console

from voicecall_rt.render import print_entry


def _printed(data: dict[str, object]) -> str:
    buffer = io.StringIO()
    print_entry(
        Console(file=buffer, width=200, color_system=None),
        {"t_ms": 2000, "kind": "dtmf", "data": data},
    )
    return buffer.getvalue().strip()


def test_keys_pressed_by_the_carrier() -> None:
    assert _printed({"digits": "1", "via": "carrier"}) == (
        "2.0s    tool  send_dtmf 1: pressed by the carrier (carrier)"
    )


def test_tones_in_our_audio() -> None:
    assert _printed({"digits": "12", "via": "audio", "audio_ms": 360}) == (
        "2.0s    tool  send_dtmf 12: 360 ms of keypad tones on the line"
    )
