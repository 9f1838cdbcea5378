"""`publicUrl` guardrails: an https origin that can only reach the public internet.

Twilio fetches our webhooks from the public internet, so a `publicUrl` that points at
this machine, a LAN or a cloud metadata address is always a mistake, and one an attacker
who can edit the config would use for SSRF. We check the text statically when config is
loaded and re-check what the name resolves to at start-up and before every call (DNS can
change under us).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

# A name whose last label is a number is an IPv4 address to URL parsers and getaddrinfo
# (`127.1`, `0x7f.0.0.1`, `0177.0.0.1`); no real top-level domain is numeric.
_NUMERIC_LAST_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")
_BLOCKED_SUFFIXES = (".local", ".internal", ".lan", ".home", ".arpa", ".localhost", ".localdomain")

Resolver = Callable[[str], Awaitable[list[str]]]


class PublicUrlError(ValueError):
    """`publicUrl` is unusable; the message says why."""


def is_public_ip(text: str) -> bool:
    """True only for globally routable unicast addresses (IPv4, IPv6, IPv4-mapped IPv6)."""
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            return is_public_ip(str(mapped))
        if ip in ipaddress.IPv6Network("64:ff9b::/96"):  # NAT64 carries an IPv4 inside
            return is_public_ip(str(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)))
    if (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    ):
        return False
    # CGNAT (100.64.0.0/10) is neither private nor global; is_global catches it.
    return ip.is_global


def validate_public_url(raw: str) -> str:
    """Return the normalised origin (`https://host[:port]`) or raise PublicUrlError."""
    text = raw.strip()
    parts = urlsplit(text)
    if parts.scheme.lower() != "https":
        raise PublicUrlError("must start with https:// (Twilio only calls TLS webhooks)")
    if parts.username is not None or parts.password is not None:
        raise PublicUrlError("must not contain credentials")
    if parts.path not in ("", "/") or parts.query or parts.fragment or text.endswith("?"):
        raise PublicUrlError("must be an origin only: no path, query or fragment")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise PublicUrlError("has no host name")
    try:
        port = parts.port
    except ValueError as exc:
        raise PublicUrlError("has an invalid port") from exc
    try:
        ipaddress.ip_address(host)
        literal = True
    except ValueError:
        literal = False
    if literal:
        if not is_public_ip(host):
            raise PublicUrlError(f"{host} is not a public address")
    else:
        if _NUMERIC_LAST_LABEL.fullmatch(host.rsplit(".", 1)[-1]):
            raise PublicUrlError(f"{host} is not a valid host name (it reads as an IPv4 address)")
        if host == "localhost" or host.endswith(_BLOCKED_SUFFIXES):
            raise PublicUrlError(f"{host} is a local or internal name")
        if "." not in host:
            raise PublicUrlError(f"{host} is not a fully qualified public name")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != 443:
        netloc = f"{netloc}:{port}"
    return f"https://{netloc}"


async def system_resolver(host: str) -> list[str]:
    """Resolve with the event loop's resolver (runs in a thread, never blocks the loop)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, 443, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


async def check_public_dns(origin: str, resolver: Resolver = system_resolver) -> list[str]:
    """Resolve the origin's host and insist that every address is public."""
    host = (urlsplit(origin).hostname or "").strip("[]")
    try:
        ipaddress.ip_address(host)
        addresses = [host]
    except ValueError:
        try:
            addresses = await resolver(host)
        except OSError as exc:
            raise PublicUrlError(f"{host} does not resolve ({exc.strerror or exc})") from exc
    if not addresses:
        raise PublicUrlError(f"{host} does not resolve")
    private = [a for a in addresses if not is_public_ip(a)]
    if private:
        raise PublicUrlError(f"{host} resolves to non-public address(es): {', '.join(private)}")
    return addresses
