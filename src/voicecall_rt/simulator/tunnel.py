"""The tunnel a fake carrier delivers through, like ngrok or cloudflared.

Requests are signed over the public URL our server configured (`https://voice.demo.test/...`)
but delivered to the local base it listens on (`http://127.0.0.1:3335/...`), with the public
`Host` preserved and `X-Forwarded-*` set. Carrier-neutral. One public origin may also be
spread over several local bases in turn, as a load balancer in front of several instances.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from urllib.parse import urlsplit, urlunsplit

__all__ = ["Tunnel"]


def _norm_origin(origin: str) -> str:
    """`scheme://host[:port]` lower-cased, default port dropped, http(s) scheme."""
    parts = urlsplit(origin.strip())
    scheme = {"wss": "https", "ws": "http"}.get(parts.scheme.lower(), parts.scheme.lower())
    host = (parts.hostname or "").lower()
    port = parts.port
    if port is not None and (scheme, port) not in (("https", 443), ("http", 80)):
        host = f"{host}:{port}"
    return f"{scheme}://{host}"


class Tunnel:
    """Public origins mapped to local bases (`{"https://voice.demo.test": "http://…"}`)."""

    def __init__(self, routes: Mapping[str, str]) -> None:
        # Each origin's local bases, taken in turn (one base: always that one).
        self._routes: dict[str, Iterator[str]] = {}
        for origin, base in routes.items():
            self.route(origin, base)

    def route(self, public_origin: str, local_base: str) -> None:
        """Add or replace a mapping (e.g. once our server knows its port)."""
        self.spread(public_origin, [local_base])

    def spread(self, public_origin: str, local_bases: Sequence[str]) -> None:
        """Deliver each request to `public_origin` to the next of `local_bases`, round-robin
        (a load balancer in front of several instances)."""
        if not local_bases:
            raise ValueError("spread over no local base")
        bases = [base.rstrip("/") for base in local_bases]
        self._routes[_norm_origin(public_origin)] = itertools.cycle(bases)

    def local_url(self, public_url: str) -> str:
        """Where the tunnel delivers `public_url` (unmapped URLs are used as they are)."""
        parts = urlsplit(public_url)
        bases = self._routes.get(_norm_origin(public_url))
        if bases is None:
            return public_url
        local = next(bases)
        target = urlsplit(local)
        scheme = target.scheme
        if parts.scheme in ("ws", "wss"):
            scheme = "wss" if scheme == "https" else "ws"
        path = target.path.rstrip("/") + (parts.path or "/")
        return urlunsplit((scheme, target.netloc, path, parts.query, ""))

    def headers(self, public_url: str) -> dict[str, str]:
        """What the tunnel adds to a request it delivers (nothing if it does not)."""
        if _norm_origin(public_url) not in self._routes:
            return {}
        parts = urlsplit(public_url)
        scheme = {"wss": "https", "ws": "http"}.get(parts.scheme, parts.scheme)
        return {"Host": parts.netloc, "X-Forwarded-Proto": scheme, "X-Forwarded-Host": parts.netloc}
