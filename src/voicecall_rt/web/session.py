"""The dashboard's login session: an HttpOnly cookie standing in for the API token.

The cookie does not carry the token itself: it is `v1.<issued>.<mac>`, where the MAC is
HMAC-SHA256 keyed by the API token over the issue time. So it proves the browser once
showed the token, it expires on the server's clock (not only the browser's), it dies when
the token is rotated, and a leaked cookie is not a bearer token for the CLI or agents.

Cross-site request forgery, for requests the cookie authenticates:
- the cookie is `SameSite=Strict`: a browser never attaches it to a request started by
  another *site*;
- but another origin on the same site (a different port on localhost, say) still counts
  as same-site, so unsafe methods must also be `Content-Type: application/json`: an HTML
  form cannot send that, and a script on another origin can only do so after a CORS
  preflight, which this server never grants;
- and when the browser says where the request comes from (`Origin`), it must be us.
Safe methods (GET) change nothing; another origin cannot read their answers (no CORS).
Requests with an `Authorization` header are judged by that header alone.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from aiohttp import web

COOKIE_NAME = "voicecall_rt_session"
MAX_AGE_S = 12 * 3600
_CLOCK_SKEW_S = 60
_VERSION = "v1"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _mac(api_token: str, issued: int) -> str:
    message = f"voicecall-rt dashboard session {_VERSION} {issued}".encode()
    return hmac.new(api_token.encode(), message, hashlib.sha256).hexdigest()


def issue(api_token: str, now: float | None = None) -> str:
    issued = int(time.time() if now is None else now)
    return f"{_VERSION}.{issued}.{_mac(api_token, issued)}"


def valid(api_token: str, value: str | None, now: float | None = None) -> bool:
    """Whether `value` is a session cookie issued with this token and not yet expired."""
    if not value or len(value) > 128:
        return False
    version, _, rest = value.partition(".")
    issued_text, _, mac = rest.partition(".")
    if version != _VERSION or not issued_text.isdigit() or len(issued_text) > 12:
        return False
    issued = int(issued_text)
    current = time.time() if now is None else now
    if not issued - _CLOCK_SKEW_S <= current <= issued + MAX_AGE_S:
        return False
    return hmac.compare_digest(mac.encode(), _mac(api_token, issued).encode())


def from_request(request: web.Request, api_token: str) -> bool:
    return valid(api_token, request.cookies.get(COOKIE_NAME))


def forgery_reason(request: web.Request) -> str | None:
    """Why a cookie-authenticated request may be forged, or None when it is fine."""
    if request.method in SAFE_METHODS:
        return None
    if request.content_type != "application/json":
        return "send Content-Type: application/json"
    origin = request.headers.get("Origin")
    if origin is not None and origin != f"{request.scheme}://{request.host}":
        return "cross-origin request"
    return None


def set_cookie(response: web.StreamResponse, request: web.Request, api_token: str) -> None:
    response.set_cookie(
        COOKIE_NAME,
        issue(api_token),
        max_age=MAX_AGE_S,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=request.secure,
    )


def clear_cookie(response: web.StreamResponse, request: web.Request) -> None:
    response.del_cookie(
        COOKIE_NAME, path="/", httponly=True, samesite="Strict", secure=request.secure
    )
