"""The fake Twilio's REST API: `Calls.json` create/update/fetch, the account and its numbers.

Basic auth and Twilio's error JSON, so the official `twilio` SDK can point its base URL at
it; its strictness (TimeLimit, Status updates) is listed in the package's docstring
(`simulator.twilio`).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from voicecall_rt.simulator.sim_call import CallConfig, SimCall
from voicecall_rt.simulator.twilio.dialect import Dialect
from voicecall_rt.simulator.twilio.resources import (
    account_resource,
    call_resource,
    number_resource,
    numbers_page,
)
from voicecall_rt.simulator.twilio.rest_params import (
    ERR_AUTHENTICATE,
    ERR_INVALID_PARAMETER,
    ERR_NOT_FOUND,
    ERR_NOT_IN_PROGRESS,
    ERR_UNAVAILABLE,
    ERR_URL,
    RestError,
    first,
    http_url,
    parse_create,
    parse_time_limit,
)
from voicecall_rt.simulator.twilio.webhooks import API_VERSION

__all__ = ["CallUpdate", "RestApi", "RestRequest", "Switchboard"]


@dataclass(frozen=True)
class RestRequest:
    """One REST request the fake answered."""

    method: str
    path: str
    params: dict[str, list[str]]
    status: int


@dataclass(frozen=True)
class CallUpdate:
    """One `POST …/Calls/{CallSid}.json` request (recorded whatever its outcome)."""

    call_sid: str
    params: dict[str, list[str]]
    status: int


class Switchboard(Protocol):
    """What the REST API reads and asks of the carrier (attributes read when used)."""

    account_sid: str
    dialect: Dialect
    owned_numbers: tuple[str, ...]
    voice_url: str | None
    status_callback: str | None
    friendly_name: str
    max_time_limit_s: int
    calls: dict[str, SimCall]
    created: list[dict[str, list[str]]]
    updates: list[CallUpdate]
    requests: list[RestRequest]

    @property
    def closing(self) -> bool: ...

    def dial(
        self, to: str, from_: str, config: CallConfig, params: dict[str, list[str]]
    ) -> SimCall:
        """Place an outbound call (its dialling runs in the background)."""
        ...

    def end_call(self, call: SimCall, final: str) -> object: ...

    def arm_time_limit(self, call: SimCall) -> None: ...

    def redirect(self, call: SimCall, url: str | None, twiml: str | None) -> None: ...


def _not_found(path: str) -> str:
    return f"The requested resource {path} was not found"


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


def _error(error: RestError) -> web.Response:
    response = _json(
        {
            "code": error.code,
            "message": error.message,
            "more_info": f"https://www.twilio.com/docs/errors/{error.code}",
            "status": error.status,
        },
        error.status,
    )
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
    return response


def _known(params: dict[str, list[str]], dialect: Dialect) -> dict[str, list[str]]:
    """The parameters the carrier reads: one without `TimeLimit` ignores it, as an API
    ignores a field it does not have."""
    if dialect.takes_time_limit:
        return params
    return {name: values for name, values in params.items() if name != "TimeLimit"}


async def _form(request: web.Request) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for key, value in (await request.post()).items():
        if isinstance(value, str):
            params.setdefault(key, []).append(value)
    return params


class RestApi:
    """The aiohttp application answering Twilio's REST paths for one account."""

    def __init__(self, board: Switchboard, *, auth_token: str) -> None:
        self._board = board
        self._auth_token = auth_token

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware()])
        prefix = f"{self._board.dialect.rest_prefix}/{API_VERSION}/Accounts/{{account}}"
        app.router.add_post(prefix + "/Calls.json", self._create_call)
        app.router.add_post(prefix + "/Calls/{call}.json", self._update_call)
        app.router.add_get(prefix + "/Calls/{call}.json", self._fetch_call)
        app.router.add_get(prefix + ".json", self._fetch_account)
        app.router.add_get(prefix + "/IncomingPhoneNumbers.json", self._list_numbers)
        return app

    def _middleware(self) -> Middleware:
        board = self._board

        @web.middleware
        async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            params: dict[str, list[str]] = {}
            if request.method == "POST":
                params = await _form(request)
            else:
                for key, value in request.query.items():
                    params.setdefault(key, []).append(value)
            try:
                if not self._authorized(request):
                    raise RestError(401, ERR_AUTHENTICATE, "Authenticate")
                if request.match_info.get("account", board.account_sid) != board.account_sid:
                    raise RestError(404, ERR_NOT_FOUND, _not_found(request.path))
                response = await handler(request)
            except RestError as exc:
                response = _error(exc)
            except web.HTTPNotFound:
                response = _error(RestError(404, ERR_NOT_FOUND, _not_found(request.path)))
            except web.HTTPMethodNotAllowed:
                response = _error(RestError(405, ERR_INVALID_PARAMETER, "Method not allowed"))
            board.requests.append(
                RestRequest(request.method, request.path, params, response.status)
            )
            return response

        return middleware

    def _authorized(self, request: web.Request) -> bool:
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        login, colon, password = decoded.partition(":")
        expected = f"{self._board.account_sid}:{self._auth_token}"
        return bool(colon) and hmac.compare_digest(
            f"{login}:{password}".encode(), expected.encode()
        )

    # -- calls ------------------------------------------------------------------------------

    async def _create_call(self, request: web.Request) -> web.Response:
        board = self._board
        if board.closing:
            raise RestError(503, ERR_UNAVAILABLE, "Service unavailable")
        params = await _form(request)
        rules = _known(params, board.dialect)
        to, from_, config = parse_create(rules, board.owned_numbers, board.max_time_limit_s)
        board.created.append(params)
        call = board.dial(to, from_, config, params)
        return _json(call_resource(call, board.account_sid), 201)

    async def _update_call(self, request: web.Request) -> web.Response:
        params = await _form(request)
        sid = request.match_info["call"]
        try:
            response = self._apply_update(sid, params, request.path)
        except RestError as exc:
            self._board.updates.append(CallUpdate(sid, params, exc.status))
            raise
        self._board.updates.append(CallUpdate(sid, params, response.status))
        return response

    def _apply_update(self, sid: str, params: dict[str, list[str]], path: str) -> web.Response:
        board = self._board
        call = board.calls.get(sid)
        if call is None:
            raise RestError(404, ERR_NOT_FOUND, _not_found(path))
        status = first(params, "Status")
        url = first(params, "Url")
        twiml = first(params, "Twiml")
        if status is not None and status not in ("completed", "canceled"):
            raise RestError(400, ERR_INVALID_PARAMETER, f"Invalid Status: {status}")
        if url is not None and not http_url(url):
            raise RestError(400, ERR_URL, f"Url is not a valid URL: {url}")
        callback = first(params, "StatusCallback")
        if callback is not None:
            if not http_url(callback):
                raise RestError(400, ERR_URL, f"StatusCallback is not a valid URL: {callback}")
            call.config.status_callback = callback
        callback_method = first(params, "StatusCallbackMethod")
        if callback_method is not None:
            call.config.status_callback_method = callback_method.upper()
        method = first(params, "Method")
        if method is not None:
            call.config.method = method.upper()
        time_limit = parse_time_limit(_known(params, board.dialect), board.max_time_limit_s)
        if time_limit is not None:
            call.config.time_limit_s = time_limit
            board.arm_time_limit(call)
        if status is not None:
            call.rest_hang_ups.append(status)
        if status is not None and not call.is_final:
            # Twilio's Call resource: `canceled` hangs up queued or ringing calls but "will
            # not affect calls already in progress"; `completed` hangs up "even if it's
            # already in progress". A call hung up before answer ends `canceled` either way
            # (the status table: "hung up while it was queued or ringing").
            if call.answered:
                if status == "completed":
                    board.end_call(call, "completed")
            else:
                board.end_call(call, "canceled")
        elif url is not None or twiml is not None:
            if call.is_final or not call.answered:
                raise RestError(
                    400, ERR_NOT_IN_PROGRESS, "Call is not in-progress. Cannot redirect."
                )
            board.redirect(call, url, twiml)
        return _json(call_resource(call, board.account_sid))

    async def _fetch_call(self, request: web.Request) -> web.Response:
        board = self._board
        call = board.calls.get(request.match_info["call"])
        if call is None:
            raise RestError(404, ERR_NOT_FOUND, _not_found(request.path))
        return _json(call_resource(call, board.account_sid))

    # -- the account ------------------------------------------------------------------------

    async def _fetch_account(self, request: web.Request) -> web.Response:
        board = self._board
        return _json(account_resource(board.account_sid, board.friendly_name))

    async def _list_numbers(self, request: web.Request) -> web.Response:
        board = self._board
        wanted = request.query.get("PhoneNumber")
        numbers = [n for n in board.owned_numbers if wanted is None or n == wanted.strip()]
        page_size = 50
        with contextlib.suppress(ValueError):
            page_size = max(1, int(request.query.get("PageSize", "50")))
        resources = [
            number_resource(
                n,
                account_sid=board.account_sid,
                voice_url=board.voice_url,
                status_callback=board.status_callback,
            )
            for n in numbers[:page_size]
        ]
        return _json(numbers_page(board.account_sid, resources, len(numbers), page_size))
