"""The fake Telnyx's REST API: Call Control v2 (`/v2/calls`, `/v2/calls/{id}/actions/…`), the
balance and the numbers list, with Bearer auth and Telnyx's error JSON
(`{"errors":[{"code","title","detail","source"}]}`), so the official `telnyx` SDK can point
its base URL at it.

It refuses what Telnyx refuses: a missing or wrong key (401), a dial without
`connection_id`, `to` or `from` or with values out of range (422), an action on a call that
has already ended (422, code 90018), an unknown call (404). Which code Telnyx gives each
validation failure is not all documented; the fake answers 10015 ("invalid parameter")
for them, and tests look only at the status and the 90018 code.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from typing import Any, Final, Protocol

import orjson
from aiohttp import web

from voicecall_rt.simulator.sim_call import SimCall

__all__ = ["CallControl", "TelnyxRestApi", "TelnyxRestError"]

ALREADY_ENDED: Final = "90018"
INVALID: Final = "10015"
NOT_FOUND: Final = "10005"
AUTH_FAILED: Final = "10009"

AMD_MODES: Final = frozenset(
    {"premium", "premium_ios_call_screening_detection", "detect", "detect_beep",
     "detect_words", "greeting_end", "disabled"}
)  # fmt: skip
TRACKS: Final = frozenset({"inbound_track", "outbound_track", "both_tracks"})
MODES: Final = frozenset({"mp3", "rtp"})
CODECS: Final = frozenset({"PCMU", "PCMA", "G722", "OPUS", "AMR-WB", "L16", "default"})
BIDI_CODECS: Final = frozenset({"PCMU", "PCMA", "G722", "OPUS", "AMR-WB", "L16"})
REJECT_CAUSES: Final = frozenset(
    {"CALL_REJECTED", "NOT_FOUND", "TEMPORARILY_UNAVAILABLE", "USER_BUSY"}
)
DTMF: Final = re.compile(r"^[0-9A-Da-d*#wW]{1,128}$")
E164: Final = re.compile(r"^\+[1-9][0-9]{6,14}$")


class TelnyxRestError(Exception):
    def __init__(self, status: int, code: str, title: str, pointer: str | None = None) -> None:
        super().__init__(title)
        self.status, self.code, self.title, self.pointer = status, code, title, pointer

    def response(self) -> web.Response:
        error: dict[str, Any] = {"code": self.code, "title": self.title, "detail": self.title}
        if self.pointer is not None:
            error["source"] = {"pointer": self.pointer}
        return web.json_response({"errors": [error]}, status=self.status, dumps=_dumps)


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def invalid(field: str, title: str) -> TelnyxRestError:
    return TelnyxRestError(422, INVALID, title, f"/{field}")


class CallControl(Protocol):
    """What the REST API asks of the fake carrier."""

    connection_id: str
    owned_numbers: tuple[str, ...]
    requests: list[tuple[str, dict[str, Any]]]

    def dial(self, body: dict[str, Any]) -> SimCall: ...

    def find(self, call_control_id: str) -> SimCall | None: ...

    async def act(self, call: SimCall, action: str, body: dict[str, Any]) -> None: ...


def _int_in(body: dict[str, Any], field: str, low: int, high: int) -> None:
    value = body.get(field)
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise invalid(field, f"{field} must be an integer from {low} to {high}")


def _one_of(body: dict[str, Any], field: str, allowed: frozenset[str]) -> None:
    value = body.get(field)
    if value is not None and value not in allowed:
        raise invalid(field, f"{field} is not one of the allowed values")


def check_client_state(body: dict[str, Any], field: str = "client_state") -> None:
    value = body.get(field)
    if value is None:
        return
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise invalid(field, f"{field} must be a valid Base-64 string") from None


def check_stream(body: dict[str, Any]) -> None:
    """The stream fields of a dial or an answer."""
    url = body.get("stream_url")
    if url is not None and (not isinstance(url, str) or not url.startswith(("wss://", "ws://"))):
        raise invalid("stream_url", "stream_url must be a WebSocket URL")
    _one_of(body, "stream_track", TRACKS)
    _one_of(body, "stream_bidirectional_mode", MODES)
    _one_of(body, "stream_codec", CODECS)
    _one_of(body, "stream_bidirectional_codec", BIDI_CODECS)
    check_client_state(body)


def check_dial(body: dict[str, Any], control: CallControl) -> None:
    for field in ("connection_id", "to", "from"):
        if not isinstance(body.get(field), str) or not body[field]:
            raise invalid(field, f"{field} is required")
    if body["connection_id"] != control.connection_id:
        raise invalid("connection_id", "connection_id is not a Call Control application")
    if not E164.fullmatch(body["to"]):
        raise invalid("to", "to must be an E.164 number")
    if control.owned_numbers and body["from"] not in control.owned_numbers:
        raise invalid("from", "from must be a number of this account")
    _int_in(body, "timeout_secs", 5, 600)
    _int_in(body, "time_limit_secs", 1, 14_400)
    _one_of(body, "answering_machine_detection", AMD_MODES)
    hook = body.get("webhook_url")
    if hook is not None and (not isinstance(hook, str) or not hook.startswith("https://")):
        raise invalid("webhook_url", "webhook_url must be an https URL")
    check_stream(body)


def check_action(action: str, body: dict[str, Any]) -> None:
    if action == "answer":
        check_stream(body)
    elif action == "reject":
        if body.get("cause") not in REJECT_CAUSES:
            raise invalid("cause", "cause is required and must be an allowed value")
    elif action == "send_dtmf":
        digits = body.get("digits")
        if not isinstance(digits, str) or not DTMF.fullmatch(digits):
            raise invalid("digits", "digits must be 0-9, A-D, *, # or w")
        _int_in(body, "duration_millis", 100, 500)
    elif action == "speak":
        for field in ("payload", "voice"):
            if not isinstance(body.get(field), str) or not body[field]:
                raise invalid(field, f"{field} is required")
    elif action == "transfer":
        if not isinstance(body.get("to"), str) or not E164.fullmatch(body["to"]):
            raise invalid("to", "to must be an E.164 number")
        caller_id = body.get("from")
        if caller_id is not None and (not isinstance(caller_id, str) or not caller_id):
            raise invalid("from", "from must be a number")
        _int_in(body, "timeout_secs", 5, 600)
        _int_in(body, "time_limit_secs", 1, 14_400)
        check_client_state(body, "target_leg_client_state")
    elif action != "hangup":
        raise TelnyxRestError(404, NOT_FOUND, "Resource not found")
    check_client_state(body)


class TelnyxRestApi:
    def __init__(self, control: CallControl, *, api_key: str) -> None:
        self._control = control
        self._api_key = api_key

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._errors])
        app.router.add_post("/v2/calls", self._dial)
        app.router.add_post("/v2/calls/{id}/actions/{action}", self._action)
        app.router.add_get("/v2/balance", self._balance)
        app.router.add_get("/v2/phone_numbers", self._numbers)
        return app

    @web.middleware
    async def _errors(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            self._authorise(request)
            response: web.StreamResponse = await handler(request)
        except TelnyxRestError as exc:
            return exc.response()
        return response

    def _authorise(self, request: web.Request) -> None:
        given = request.headers.get("Authorization", "")
        expected = f"Bearer {self._api_key}"
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise TelnyxRestError(401, AUTH_FAILED, "Authentication failed")

    async def _body(self, request: web.Request) -> dict[str, Any]:
        try:
            body = orjson.loads(await request.read() or b"{}")
        except orjson.JSONDecodeError:
            raise TelnyxRestError(400, INVALID, "The request body is not JSON") from None
        if not isinstance(body, dict):
            raise TelnyxRestError(400, INVALID, "The request body must be an object")
        return body

    async def _dial(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        self._control.requests.append(("dial", body))
        check_dial(body, self._control)
        call = self._control.dial(body)
        data = {
            "call_control_id": call.sid,
            "call_leg_id": "leg-" + call.sid[3:],
            "call_session_id": "sess-" + call.sid[3:],
            "is_alive": False,
            "record_type": "call",
        }
        if "client_state" in body:
            data["client_state"] = body["client_state"]
        return web.json_response({"data": data}, dumps=_dumps)

    async def _action(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        action = request.match_info["action"]
        self._control.requests.append(
            (action, {"call_control_id": request.match_info["id"], **body})
        )
        check_action(action, body)
        call = self._control.find(request.match_info["id"])
        if call is None:
            raise TelnyxRestError(404, NOT_FOUND, "Resource not found")
        if call.is_final:
            raise TelnyxRestError(422, ALREADY_ENDED, "Call has already ended")
        await self._control.act(call, action, body)
        return web.json_response({"data": {"result": "ok"}}, dumps=_dumps)

    async def _balance(self, request: web.Request) -> web.Response:
        data = {
            "record_type": "balance",
            "balance": "100.00",
            "credit_limit": "0.00",
            "available_credit": "100.00",
            "pending": "0.00",
            "currency": "USD",
        }
        return web.json_response({"data": data}, dumps=_dumps)

    async def _numbers(self, request: web.Request) -> web.Response:
        wanted = request.query.get("filter[phone_number]")
        numbers = [n for n in self._control.owned_numbers if wanted is None or n == wanted]
        data = [
            {
                "id": str(1_000_000 + i),
                "record_type": "phone_number",
                "phone_number": number,
                "status": "active",
                "country_iso_alpha2": "US",
                "created_at": "2026-01-01T00:00:00Z",
                "purchased_at": "2026-01-01T00:00:00Z",
                "deletion_lock_enabled": False,
                "phone_number_type": "local",
                "tags": [],
                "connection_id": self._control.connection_id,
            }
            for i, number in enumerate(numbers)
        ]
        meta = {"page_number": 1, "page_size": 20, "total_pages": 1, "total_results": len(data)}
        return web.json_response({"data": data, "meta": meta}, dumps=_dumps)
