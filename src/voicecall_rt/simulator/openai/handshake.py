"""How the fake Realtime server answers a connection it will not serve, as the real API does:
an HTTP error with OpenAI's JSON error body before the upgrade (no or a wrong API key, a
scripted refusal), or, once upgraded, an `error` event and close 1008 (the beta protocol's
`OpenAI-Beta` header, a missing or unknown model)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from voicecall_rt.simulator.openai.client_event_check import ClientEventProblem
from voicecall_rt.simulator.openai.wire import dumps

__all__ = ["Refusal", "auth_failure", "openai_error", "upgrade_refusal"]


def openai_error(
    status: int, message: str, *, type_: str, code: str | None = None, param: str | None = None
) -> web.Response:
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return web.json_response(body, status=status, dumps=dumps)


def _mask_key(key: str) -> str:
    return f"{key[:3]}{'*' * 8}{key[-4:]}" if len(key) > 8 else key


def auth_failure(request: web.Request, api_key: str) -> web.Response | None:
    """The 401 for a request without `Authorization: Bearer <api_key>`, else None."""
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return openai_error(
            401,
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            type_="invalid_request_error",
        )
    if key.strip() != api_key:
        return openai_error(
            401,
            f"Incorrect API key provided: {_mask_key(key.strip())}. You can find your API "
            "key at https://platform.openai.com/account/api-keys.",
            type_="invalid_request_error",
            code="invalid_api_key",
        )
    return None


@dataclass(frozen=True)
class Refusal:
    """Why an upgraded connection is refused: `reason` for `FakeSession.rejected`, `problem`
    for the `error` event."""

    reason: str
    problem: ClientEventProblem


def upgrade_refusal(
    headers: Mapping[str, str], model: str | None, models: tuple[str, ...]
) -> Refusal | None:
    """Beta header or bad model (the query's `model`, against the models served), else None."""
    if "OpenAI-Beta" in headers:
        return Refusal(
            "beta header",
            ClientEventProblem(
                "beta_api_not_supported",
                "The Realtime API beta protocol is no longer supported. Remove the "
                f"'OpenAI-Beta: {headers['OpenAI-Beta']}' header to use the GA protocol.",
            ),
        )
    if model is None:
        return Refusal(
            "no model",
            ClientEventProblem(
                "missing_required_parameter", "Missing required parameter: 'model'.", "model"
            ),
        )
    if model not in models:
        return Refusal(
            "unknown model",
            ClientEventProblem(
                "model_not_found",
                f"The model '{model}' does not exist or you do not have access to it.",
                "model",
            ),
        )
    return None
