"""The fake Plivo's REST API under `/v1/Account/{auth_id}/`: `Call/` create, `Call/{uuid}/`
hang-up and transfer, `Request/{uuid}/` cancel, `Call/{uuid}/DTMF/`, the account and its
numbers.

Basic auth (Auth ID and Auth Token), JSON bodies as the plivo SDK sends them, Plivo's
shapes (`{"api_id", "message", "request_uuid"}`, `{"api_id", "error"}`) and status codes,
so the official SDK can point its base URL at it. Refused as Plivo refuses: bad
credentials (401), a number that is not digits with the country code, a caller ID not the
account's, an answer URL that is not http(s), a ring timeout or time limit out of range,
machine detection other than `true`/`hangup`, keys other than DTMF keys (400); a call or
request that is not live (404).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import uuid
from typing import Any, Final, Protocol

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from voicecall_rt.simulator.sim_call import CallConfig, SimCall

__all__ = ["MAX_TIME_LIMIT_S", "RestApi", "Switchboard"]

MAX_TIME_LIMIT_S: Final = 86_400  # Plivo's time_limit ceiling (24 h)
_NUMBER: Final = re.compile(r"^[1-9][0-9]{1,14}$")
_DIGITS: Final = re.compile(r"^[0-9*#A-Dw]+$")


class _Refused(Exception):
    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error


class Switchboard(Protocol):
    auth_id: str
    owned_numbers: tuple[str, ...]
    requests: dict[str, SimCall]
    calls: dict[str, SimCall]
    rest_log: list[tuple[str, str, int]]
    created: list[dict[str, Any]]

    @property
    def closing(self) -> bool: ...

    def dial(
        self, to: str, from_: str, config: CallConfig, request_uuid: str, ring_url: str | None
    ) -> SimCall: ...

    def end_call(self, call: SimCall, final: str) -> object: ...

    async def play_digits(self, call: SimCall, digits: str) -> None: ...

    def transfer(self, call: SimCall, url: str) -> None: ...


def _json(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


def _api_id() -> str:
    return str(uuid.uuid4())


def _http_url(value: object) -> bool:
    return isinstance(value, str) and re.match(r"^https?://[^/\s]+", value) is not None


def _int(body: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = body.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise _Refused(400, f"{name} must be an integer between {low} and {high}")
    return value


class RestApi:
    def __init__(self, board: Switchboard, *, auth_token: str) -> None:
        self._board = board
        self._auth_token = auth_token

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware()])
        prefix = "/v1/Account/{account}"
        app.router.add_get(prefix + "/", self._account)
        app.router.add_post(prefix + "/Call/", self._create)
        app.router.add_delete(prefix + "/Call/{uuid}/", self._hang_up)
        app.router.add_post(prefix + "/Call/{uuid}/", self._transfer)
        app.router.add_delete(prefix + "/Request/{uuid}/", self._cancel)
        app.router.add_post(prefix + "/Call/{uuid}/DTMF/", self._dtmf)
        app.router.add_get(prefix + "/Number/{number}/", self._number)
        return app

    def _middleware(self) -> Middleware:
        board = self._board

        @web.middleware
        async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            try:
                if not self._authorized(request):
                    raise _Refused(401, "authentication failed")
                if request.match_info.get("account") != board.auth_id:
                    raise _Refused(404, "not found")
                response = await handler(request)
            except _Refused as exc:
                response = _json({"api_id": _api_id(), "error": exc.error}, exc.status)
            except web.HTTPException as exc:
                response = _json({"api_id": _api_id(), "error": exc.reason}, exc.status)
            board.rest_log.append((request.method, request.path, response.status))
            return response

        return middleware

    def _authorized(self, request: web.Request) -> bool:
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        expected = f"{self._board.auth_id}:{self._auth_token}".encode()
        return hmac.compare_digest(decoded, expected)

    async def _body(self, request: web.Request) -> dict[str, Any]:
        if request.content_type != "application/json":
            raise _Refused(400, "the body must be JSON")
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            raise _Refused(400, "the body is not valid JSON") from None
        if not isinstance(body, dict):
            raise _Refused(400, "the body must be a JSON object")
        return body

    async def _create(self, request: web.Request) -> web.Response:
        board = self._board
        if board.closing:
            raise _Refused(503, "service unavailable")
        body = await self._body(request)
        to, from_ = body.get("to"), body.get("from")
        if not isinstance(to, str) or not _NUMBER.match(to):
            raise _Refused(400, "to: a number with its country code, digits only")
        if not isinstance(from_, str) or not _NUMBER.match(from_):
            raise _Refused(400, "from: a number with its country code, digits only")
        if board.owned_numbers and "+" + from_ not in board.owned_numbers:
            raise _Refused(400, f"from: {from_} is not a number of this account")
        for name in ("answer_url", "ring_url", "hangup_url", "machine_detection_url"):
            if (name == "answer_url" or name in body) and not _http_url(body.get(name)):
                raise _Refused(400, f"{name} must be an http(s) URL")
        for name in ("answer_method", "ring_method", "hangup_method", "machine_detection_method"):
            if body.get(name, "POST") not in ("GET", "POST"):
                raise _Refused(400, f"{name} must be GET or POST")
        detection = body.get("machine_detection")
        if detection is not None and detection not in ("true", "hangup"):
            raise _Refused(400, "machine_detection must be 'true' or 'hangup'")
        if "machine_detection_url" in body and detection is None:
            raise _Refused(400, "machine_detection_url without machine_detection")
        config = CallConfig(
            url=body["answer_url"],
            method=body.get("answer_method", "POST"),
            status_callback=body.get("hangup_url"),
            timeout_s=_int(body, "ring_timeout", 120, 1, 86_400),  # no documented ceiling
            time_limit_s=_int(body, "time_limit", 14_400, 1, MAX_TIME_LIMIT_S),
            machine_detection=detection,
            async_amd=detection is not None,
            amd_callback=body.get("machine_detection_url"),
        )
        board.created.append(body)
        request_uuid = str(uuid.uuid4())
        board.dial("+" + to, "+" + from_, config, request_uuid, body.get("ring_url"))
        return _json(
            {"api_id": _api_id(), "message": "call fired", "request_uuid": request_uuid}, 201
        )

    def _live(self, uuid_: str, calls: dict[str, SimCall]) -> SimCall:
        call = calls.get(uuid_)
        if call is None or call.teardown is not None:
            raise _Refused(404, "not found")
        return call

    async def _hang_up(self, request: web.Request) -> web.Response:
        call = self._live(request.match_info["uuid"], self._board.calls)
        # A CallUUID exists from the first ring on: hanging up a ringing call cancels it.
        call.rest_hang_ups.append("completed")
        self._board.end_call(call, "completed" if call.answered else "canceled")
        return web.Response(status=204)

    async def _transfer(self, request: web.Request) -> web.Response:
        """Transfer Call: `legs` aleg (what we support of it) and `aleg_url`, an http(s)
        URL whose XML the answered call runs next (its current XML and stream stop)."""
        call = self._live(request.match_info["uuid"], self._board.calls)
        body = await self._body(request)
        legs, url = body.get("legs", "aleg"), body.get("aleg_url")
        if legs not in ("aleg", "bleg", "both"):
            raise _Refused(400, "legs must be 'aleg', 'bleg' or 'both'")
        if legs != "aleg":
            raise _Refused(400, "the fake transfers the aleg only")
        if not _http_url(url):
            raise _Refused(400, "aleg_url must be an http(s) URL when legs is aleg")
        if body.get("aleg_method", "POST") not in ("GET", "POST"):
            raise _Refused(400, "aleg_method must be GET or POST")
        if not call.answered:
            raise _Refused(404, "not found")
        self._board.transfer(call, str(url))
        return _json({"api_id": _api_id(), "message": "call transferred"}, 202)

    async def _cancel(self, request: web.Request) -> web.Response:
        call = self._live(request.match_info["uuid"], self._board.requests)
        if call.answered:
            raise _Refused(404, "not found")  # no longer a request: hang the call up
        call.rest_hang_ups.append("canceled")
        self._board.end_call(call, "canceled")
        return web.Response(status=204)

    async def _dtmf(self, request: web.Request) -> web.Response:
        call = self._live(request.match_info["uuid"], self._board.calls)
        body = await self._body(request)
        digits, leg = body.get("digits"), body.get("leg", "aleg")
        if not isinstance(digits, str) or not _DIGITS.match(digits):
            raise _Refused(400, "digits: DTMF keys 0-9 * # A-D (w waits)")
        if leg not in ("aleg", "bleg"):
            raise _Refused(400, "leg must be 'aleg' or 'bleg'")
        if not call.answered:
            raise _Refused(404, "not found")
        await self._board.play_digits(call, digits)
        return _json({"api_id": _api_id(), "message": "digits sent"}, 202)

    async def _account(self, request: web.Request) -> web.Response:
        auth_id = self._board.auth_id
        return _json(
            {
                "account_type": "standard",
                "address": "",
                "api_id": _api_id(),
                "auth_id": auth_id,
                "auto_recharge": False,
                "billing_mode": "prepaid",
                "cash_credits": "10.00000",
                "city": "",
                "name": "voicecall_rt simulator",
                "resource_uri": f"/v1/Account/{auth_id}/",
                "state": "",
                "timezone": "UTC",
            }
        )

    async def _number(self, request: web.Request) -> web.Response:
        number = request.match_info["number"]
        if "+" + number not in self._board.owned_numbers:
            raise _Refused(404, "not found")
        return _json(
            {
                "api_id": _api_id(),
                "number": number,
                "number_type": "local",
                "voice_enabled": True,
                "sms_enabled": True,
                "resource_uri": f"/v1/Account/{self._board.auth_id}/Number/{number}/",
            }
        )
