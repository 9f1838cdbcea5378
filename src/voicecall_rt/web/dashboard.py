"""The dashboard: a static page at `/` (plain HTML, CSS and JS shipped in the package, no
build step, nothing fetched from the internet) that reads the local API with a login
cookie; plus the debug recordings of a call, served to it and to API clients.

Routes:
- `GET /` the app (a login redirect without a session), `GET /login`, `POST /login`
  (the API token from a form: sets the session cookie), `POST /logout`;
- `GET /static/{name}` the page's own files, a fixed list;
- `GET /api/calls/{id}/recordings` and `GET /api/calls/{id}/recordings/{name}`: the known
  debug WAV files of a call, behind the API's token check like the rest of `/api/`;
- `GET /api/models` (web/api.py): the configured models and their announced shutdowns,
  which the page shows as a banner;
- `GET /api/overview` and `GET /api/calls.csv` (web/overview.py): the overview's figures
  and the call list as CSV.
Every response outside `/voice/` carries the security headers below.
"""

from __future__ import annotations

import hmac
import re
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from voicecall_rt.call.recording_files import CALL_WAV, CALLER_WAV, MODEL_WAV, RECORDINGS_DIR
from voicecall_rt.web import api, overview, session
from voicecall_rt.web.keys import API_TOKEN, SETTINGS

ASSETS = Path(__file__).with_name("dashboard")
_STATIC: dict[str, str] = {
    "common.js": "text/javascript",
    "calls_list.js": "text/javascript",
    "latency_chart.js": "text/javascript",
    "call_view.js": "text/javascript",
    "call_page.js": "text/javascript",
    "overview.js": "text/javascript",
    "app.js": "text/javascript",
    "login.js": "text/javascript",
    "style.css": "text/css",
    "favicon.svg": "image/svg+xml",
}
# Only these files, only from `<dataDir>/recordings/<call id>/`: nothing from the request
# ever becomes part of a path except a call id of a fixed shape.
RECORDINGS = (CALL_WAV, CALLER_WAV, MODEL_WAV)
_CALL_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "media-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}
MAX_TOKEN_CHARS = 512
_PAGES = ("index.html", "login.html")


class Assets:
    """The page's files, read once when the app is built (they ship with the package)."""

    def __init__(self, directory: Path = ASSETS) -> None:
        self.files = {name: (directory / name).read_bytes() for name in (*_PAGES, *_STATIC)}


ASSET_FILES = web.AppKey("dashboard_assets", Assets)


def setup(app: web.Application) -> None:
    app[ASSET_FILES] = Assets()
    app.router.add_get("/", index, allow_head=False)
    app.router.add_get("/login", login_page, allow_head=False)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/static/{name}", static, allow_head=False)
    app.router.add_get("/api/calls/{call_id}/recordings", list_recordings, allow_head=False)
    app.router.add_get("/api/calls/{call_id}/recordings/{name}", recording, allow_head=False)
    app.router.add_get("/api/models", api.models_status, allow_head=False)
    overview.setup(app)
    app.on_response_prepare.append(_security_headers)


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    if request.path.startswith("/voice/"):
        return  # the carrier's webhooks and media stream: not for browsers
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


def _page(request: web.Request, name: str) -> web.Response:
    return web.Response(
        body=request.app[ASSET_FILES].files[name],
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-store"},
    )


def _signed_in(request: web.Request) -> bool:
    return session.from_request(request, request.app[API_TOKEN])


async def index(request: web.Request) -> web.StreamResponse:
    if not _signed_in(request):
        raise web.HTTPSeeOther("/login")
    return _page(request, "index.html")


async def login_page(request: web.Request) -> web.StreamResponse:
    if _signed_in(request):
        raise web.HTTPSeeOther("/")
    return _page(request, "login.html")


async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    given = form.get("token")
    token = given.strip() if isinstance(given, str) and len(given) <= MAX_TOKEN_CHARS else ""
    expected = request.app[API_TOKEN]
    if not token or not hmac.compare_digest(token.encode(), expected.encode()):
        # Post/redirect/get: the page shows the error from the query, no cookie is set.
        raise web.HTTPSeeOther("/login?error=1")
    response = web.HTTPSeeOther("/")
    session.set_cookie(response, request, expected)
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    response = web.HTTPSeeOther("/login")
    session.clear_cookie(response, request)
    raise response


async def static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    content_type = _STATIC.get(name)
    if content_type is None:
        raise web.HTTPNotFound()
    return web.Response(
        body=request.app[ASSET_FILES].files[name],
        content_type=content_type,
        charset="utf-8" if content_type.startswith("text/") else None,
        headers={"Cache-Control": "no-cache"},
    )


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def _recordings_dir(request: web.Request) -> Path | None:
    call_id = request.match_info["call_id"]
    if not _CALL_ID.fullmatch(call_id):
        return None
    return request.app[SETTINGS].data_dir / RECORDINGS_DIR / call_id


def _present(directory: Path, name: str) -> Path | None:
    path = directory / name
    # A regular file, not a link planted to point elsewhere.
    if path.is_symlink() or not path.is_file():
        return None
    return path


async def list_recordings(request: web.Request) -> web.Response:
    directory = _recordings_dir(request)
    if directory is None:
        return _json({"error": {"code": "not-found", "message": "no such call"}}, 404)
    call_id = request.match_info["call_id"]
    found = []
    for name in RECORDINGS:
        path = _present(directory, name)
        if path is not None:
            found.append(
                {
                    "name": name,
                    "bytes": path.stat().st_size,
                    "url": f"/api/calls/{call_id}/recordings/{name}",
                }
            )
    return _json({"recordings": found})


async def recording(request: web.Request) -> web.StreamResponse:
    directory = _recordings_dir(request)
    name = request.match_info["name"]
    path = None
    if directory is not None and name in RECORDINGS:
        path = _present(directory, name)
    if path is None:
        return _json({"error": {"code": "not-found", "message": "no such recording"}}, 404)
    return web.FileResponse(
        path, headers={"Content-Type": "audio/wav", "Cache-Control": "no-store"}
    )
