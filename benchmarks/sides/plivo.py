"""Plivo as the load generator plays it (`carrier/plivo/`).

Admission: the application's answer URL (our `/voice/answer`) fetched for an inbound call,
a form post signed with Plivo's V3 scheme (HMAC-SHA256 over the URL, the sorted form and a
nonce, with the Auth Token: the simulator's `sign`); the token comes back in the Plivo
XML's `<Stream extraHeaders>`, which Plivo hands on, as is, in the stream's `start`.
The stream is Audio Streams (`carrier/plivo/wire.py`): no `connected`, a `start` with
top-level `streamId` and `extra_headers`, `media` stamped with wall-clock milliseconds,
`playedStream` for a checkpoint whose audio has played; at our `clearAudio` it drops its
queue, says `clearedAudio` and never answers the checkpoints it dropped; no `stop`: the
stream ends when the socket closes.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any, Final

import aiohttp
import orjson

from benchmarks.recorder import Call
from benchmarks.sides import RestLog, http_response
from benchmarks.sides.common import (
    TemplateStream,
    name_by_uuid,
    server_section,
    token_from_answer,
)
from benchmarks.sim_account import FROM_NUMBER, PUBLIC_URL
from voicecall_rt.carrier.plivo import wire
from voicecall_rt.simulator.plivo.fake import AUTH_ID, AUTH_TOKEN
from voicecall_rt.simulator.plivo.webhooks import sign

CALLER_NUMBER: Final = "14155550177"  # Plivo writes numbers without the `+`
_EXTRA: Final = re.compile(r'extraHeaders="([^"]*)"')


class PlivoStream(TemplateStream):
    """One call's Audio Streams messages (see `sides.CallStream`)."""

    media_prefix = wire.MEDIA_PREFIX.encode()
    mark_prefix = wire.MARK_PREFIX.encode()
    clear_prefix = wire.CLEAR_PREFIX.encode()
    payload_at = wire.PAYLOAD_AT.encode()
    name_at = wire.NAME_AT.encode()
    echoes_cleared_marks = False  # Plivo never answers a checkpoint it cleared

    def __init__(self, call: Call) -> None:
        super().__init__(
            call,
            wire.carrier_media_template(call.stream_sid),
            wire.carrier_played_template(call.stream_sid),  # `playedStream`
        )
        self.stamp0 = int(time.time() * 1000)  # Plivo stamps frames with wall-clock ms

    def opening(self, next_seq: Callable[[], int]) -> list[bytes]:
        call = self.call
        start = wire.carrier_start(
            next_seq(), call.stream_sid, account_id=AUTH_ID, call_id=call.call_sid, extra=call.token
        )
        return [orjson.dumps(start)]

    def cleared(self, next_seq: Callable[[], int]) -> bytes:
        return orjson.dumps(wire.carrier_cleared(next_seq(), self.call.stream_sid))

    def stop(self, seq: int) -> None:
        return None  # Plivo has no `stop`: it closes the socket


class PlivoSide:
    """Plivo (see `sides.CarrierSide`)."""

    name = "plivo"

    def server_section(self, rest_url: str) -> dict[str, Any]:
        # hang-ups land on the stand-in REST API (counted)
        keys = {"authId": AUTH_ID, "authToken": AUTH_TOKEN, "apiBaseUrl": rest_url}
        return server_section(self.name, keys)

    def name_call(self, call: Call) -> None:
        name_by_uuid(call)

    async def admit(
        self, http: aiohttp.ClientSession, port: int, call: Call, rest: RestLog
    ) -> str | None:
        params = {
            "CallUUID": call.call_sid,
            "CallStatus": "ringing",
            "Direction": "inbound",
            "Event": "StartApp",
            "From": CALLER_NUMBER,
            "To": FROM_NUMBER.lstrip("+"),
        }
        headers = sign(PUBLIC_URL + "/voice/answer", params, AUTH_TOKEN)
        call.token, error = await token_from_answer(http, port, params, headers, _EXTRA)
        return error

    def stream(self, call: Call) -> PlivoStream:
        return PlivoStream(call)

    def rest_reply(self, method: bytes, path: bytes, body: bytes, log: RestLog) -> bytes:
        log.requests += 1  # `DELETE /Call/{uuid}/`
        return http_response(204)


SIDE = PlivoSide()
