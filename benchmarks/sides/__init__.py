"""The carrier the load generator plays, one module per carrier (issue 12).

Each module here gives a `CarrierSide`: how that carrier admits an inbound call to our
server (its signed webhook(s), and where the stream token comes back: a document, or, for
Telnyx, our server's REST answer action), its media-stream messages as byte templates for
the caller's hot path (`CallStream`), how it answers our REST requests, and our server's
settings for it (`benchmarks/target.py`). `caller.py` and `calls.py` stay carrier-neutral:
they look the carrier up here, by name, never by an `if`.

The bare relays speak Twilio's wire format only (they have no carrier seam), so they are
always driven as Twilio.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol

if TYPE_CHECKING:
    import aiohttp

    from benchmarks.recorder import Call

# Every carrier the load generator can play, in the order reports list them.
CARRIERS: Final = ("twilio", "telnyx", "plivo", "signalwire")


@dataclass
class RestLog:
    """What our server asked of the carrier's REST API during a run (the fake model's port
    stands in for it): the hang-ups of calls the model ended, and, for a carrier whose
    inbound calls are answered by REST (Telnyx), each answer's body by call id."""

    requests: int = 0  # every request that is not an answer (hang-ups): counted, checked
    answers: dict[str, bytes] = field(default_factory=dict)


class CallStream(Protocol):
    """One call's media stream as the carrier writes it. The caller fills `media_template`
    with `% (sequence number, chunk, timestamp ms, base64 payload)` every 20 ms, so the
    per-frame path is one bytes formatting; the rest is per call or per mark."""

    media_template: bytes
    stamp0: int  # the timestamp of frame 0 (ms): the stream's clock, or wall-clock (Plivo)
    # Our server's messages, told apart by how it writes them (only it writes to us).
    media_prefix: bytes
    mark_prefix: bytes
    clear_prefix: bytes
    payload_at: bytes
    name_at: bytes
    # Whether a `clear` answers the marks it dropped (Twilio, SignalWire, Telnyx) or leaves
    # them unanswered (Plivo's cleared checkpoints).
    echoes_cleared_marks: bool

    def opening(self, next_seq: Callable[[], int]) -> list[bytes]:
        """What the carrier sends once the socket is open (`connected`, `start`); a message
        that carries a sequence number takes `next_seq()`."""
        ...

    def mark_echo(self, seq: int, name: bytes) -> bytes:
        """The carrier's answer to a mark whose audio has played; `name` as it stood in ours."""
        ...

    def cleared(self, next_seq: Callable[[], int]) -> bytes | None:
        """What the carrier says once it has dropped its queue at our `clear`, if anything
        (numbered with `next_seq()`)."""
        ...

    def stop(self, seq: int) -> bytes | None:
        """The carrier's end-of-stream message; None: it just closes the socket (Plivo)."""
        ...


class CarrierSide(Protocol):
    name: str

    def server_section(self, rest_url: str) -> dict[str, Any]:
        """Our server's settings for this carrier (`carrier` and its section), its REST
        API pointed at `rest_url`."""
        ...

    def name_call(self, call: Call) -> None:
        """Give the call the carrier's ids (call and stream, in its shapes)."""
        ...

    async def admit(
        self, http: aiohttp.ClientSession, port: int, call: Call, rest: RestLog
    ) -> str | None:
        """Tell our server (on 127.0.0.1:`port`) that `call` is ringing, the carrier's way,
        and keep what the carrier must put in the stream's `start` (`call.token`). Returns
        what went wrong, or None."""
        ...

    def stream(self, call: Call) -> CallStream: ...

    def rest_reply(self, method: bytes, path: bytes, body: bytes, log: RestLog) -> bytes:
        """Record one REST request of our server and return the carrier's whole HTTP
        response to it."""
        ...


_MODULES: Final = {name: f"benchmarks.sides.{name}" for name in CARRIERS}


def side(name: str) -> CarrierSide:
    """The carrier `name` (imported on first use: the target process needs only its own)."""
    module = _MODULES.get(name)
    if module is None:
        raise ValueError(f"unknown carrier {name!r}: one of {', '.join(CARRIERS)}")
    found: CarrierSide = importlib.import_module(module).SIDE
    return found


def http_response(
    status: int, body: bytes = b"", content_type: bytes = b"application/json"
) -> bytes:
    """A whole HTTP/1.1 response that closes the connection (no REST client keeps one to
    the stand-in open, so none is counted as a model socket)."""
    reason = {200: b"OK", 201: b"Created", 204: b"No Content"}.get(status, b"Error")
    head = b"HTTP/1.1 %d %s\r\nConnection: close\r\n" % (status, reason)
    if status == 204:
        return head + b"\r\n"
    return head + b"Content-Type: %s\r\nContent-Length: %d\r\n\r\n%s" % (
        content_type,
        len(body),
        body,
    )
