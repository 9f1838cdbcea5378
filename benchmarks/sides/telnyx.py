"""Telnyx as the load generator plays it (Call Control v2, `carrier/telnyx/`).

Admission: `call.initiated` (incoming) posted as Telnyx's JSON to the Call Control
application's URL (our `/voice/answer`), signed with Ed25519 over `"{timestamp}|{body}"`
(the simulator's test key, whose public half our server is given). Our server answers the
call by REST (`POST /calls/{id}/actions/answer`, the stream and its token in the action's
`client_state`): that request lands on the stand-in REST API, which keeps its body, and the
webhook's response comes only once it has. Then `call.answered` (the action named no
webhook URL, so the application's) and the media stream: `connected`, `start` with the
answer's `client_state` and top-level `stream_id`, `media`, mark echoes (also for the marks
a `clear` drops, as the fake Telnyx does), `stop`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import unquote_to_bytes

import aiohttp
import orjson

from benchmarks.recorder import Call
from benchmarks.sides import RestLog, http_response
from benchmarks.sides.common import TemplateStream, server_section
from benchmarks.sim_account import FROM_NUMBER, PUBLIC_URL
from voicecall_rt.carrier.telnyx import wire
from voicecall_rt.simulator.telnyx.fake import API_KEY, CONNECTION_ID
from voicecall_rt.simulator.telnyx.leg import new_call_control_id
from voicecall_rt.simulator.telnyx.webhooks import event_body, public_key_b64, sign

CALLER_NUMBER: Final = "+14155550177"
_ANSWER: Final = b"/actions/answer"
_CALLS: Final = b"/calls/"
_OK: Final = http_response(200, b'{"data":{"result":"ok"}}')


class TelnyxStream(TemplateStream):
    """One call's media-streaming messages (see `sides.CallStream`); a `clear` answers the
    marks it dropped, as the fake Telnyx does."""

    media_prefix = wire.MEDIA_PREFIX.encode()
    mark_prefix = wire.MARK_PREFIX.encode()
    clear_prefix = wire.CLEAR.encode()
    payload_at = wire.PAYLOAD_AT.encode()
    name_at = wire.NAME_AT.encode()

    def __init__(self, call: Call) -> None:
        super().__init__(
            call,
            wire.carrier_media_template(call.stream_sid),
            wire.carrier_mark_template(call.stream_sid),
        )

    def opening(self, next_seq: Callable[[], int]) -> list[bytes]:
        call = self.call
        start = wire.carrier_start(
            str(next_seq()),
            call.stream_sid,
            call_control_id=call.call_sid,
            client_state=call.token or None,
            from_=CALLER_NUMBER,
            to=FROM_NUMBER,
        )
        return [orjson.dumps(wire.carrier_connected()), orjson.dumps(start)]

    def stop(self, seq: int) -> bytes:
        call = self.call
        return orjson.dumps(
            wire.carrier_stop(str(seq), call.stream_sid, call_control_id=call.call_sid)
        )


class TelnyxSide:
    """Telnyx (see `sides.CarrierSide`)."""

    name = "telnyx"

    def server_section(self, rest_url: str) -> dict[str, Any]:
        keys = {
            "apiKey": API_KEY,
            "connectionId": CONNECTION_ID,
            "publicKey": public_key_b64(),
            # answers and hang-ups land on the stand-in (answers kept, hang-ups counted)
            "apiBaseUrl": rest_url,
        }
        return server_section(self.name, keys)

    def name_call(self, call: Call) -> None:
        call.call_sid = new_call_control_id()
        call.stream_sid = str(uuid.uuid4())

    async def _post(
        self, http: aiohttp.ClientSession, port: int, call: Call, event_type: str, **extra: Any
    ) -> tuple[int, str]:
        payload = {
            "call_control_id": call.call_sid,
            "call_leg_id": "leg-" + call.call_sid[3:],
            "call_session_id": "sess-" + call.call_sid[3:],
            "connection_id": CONNECTION_ID,
            "from": CALLER_NUMBER,
            "to": FROM_NUMBER,
            **extra,
        }
        url = PUBLIC_URL + "/voice/answer"
        body = event_body(event_type, payload, url)
        headers = {**sign(body, int(time.time())), "Content-Type": "application/json"}
        async with http.post(
            f"http://127.0.0.1:{port}/voice/answer", data=body, headers=headers
        ) as response:
            return response.status, await response.text()

    async def admit(
        self, http: aiohttp.ClientSession, port: int, call: Call, rest: RestLog
    ) -> str | None:
        status, text = await self._post(
            http, port, call, "call.initiated", direction="incoming", state="parked"
        )
        # our server answers by REST before it answers the webhook
        answer = rest.answers.pop(call.call_sid, None)
        if not 200 <= status < 300 or answer is None:
            answered = "answered" if answer is not None else "not answered"
            return f"call.initiated: HTTP {status} {text[:200]} ({answered} by REST)"
        state = orjson.loads(answer).get("client_state")
        if not isinstance(state, str) or wire.read_client_state(state) is None:
            return f"the answer action's client_state is not ours: {str(state)[:80]}"
        call.token = state  # Telnyx hands it back, as is, in the stream's `start`
        status, text = await self._post(
            http, port, call, "call.answered", state="answered", client_state=state
        )
        if not 200 <= status < 300:  # Telnyx wants any 2xx; ours is 204
            return f"call.answered: HTTP {status} {text[:200]}"
        return None

    def stream(self, call: Call) -> TelnyxStream:
        return TelnyxStream(call)

    def rest_reply(self, method: bytes, path: bytes, body: bytes, log: RestLog) -> bytes:
        if method == b"POST" and path.endswith(_ANSWER) and _CALLS in path:
            call_id = path[path.index(_CALLS) + len(_CALLS) : -len(_ANSWER)]
            log.answers[unquote_to_bytes(call_id).decode()] = body
        else:
            log.requests += 1  # `actions/hangup`
        return _OK


SIDE = TelnyxSide()
