"""`publicUrl` guardrails: https origins that can only reach the public internet."""

from __future__ import annotations

import pytest

from voicecall_rt.public_url import (
    PublicUrlError,
    check_public_dns,
    is_public_ip,
    validate_public_url,
)

# --------------------------------------------------------------------------- accepted


@pytest.mark.parametrize(
    ("raw", "origin"),
    [
        ("https://voice.example.com", "https://voice.example.com"),
        ("https://voice.example.com/", "https://voice.example.com"),
        ("  https://voice.example.com  ", "https://voice.example.com"),
        ("HTTPS://Voice.Example.COM", "https://voice.example.com"),
        ("https://voice.example.com.", "https://voice.example.com"),
        ("https://voice.example.com:443", "https://voice.example.com"),
        ("https://voice.example.com:443/", "https://voice.example.com"),
        ("https://voice.example.com:8443", "https://voice.example.com:8443"),
        ("https://voice.example.com:8443/", "https://voice.example.com:8443"),
        ("https://abc123.ngrok-free.app", "https://abc123.ngrok-free.app"),
        ("https://8.8.8.8", "https://8.8.8.8"),
        ("https://[2606:4700:4700::1111]", "https://[2606:4700:4700::1111]"),
        ("https://[2606:4700:4700::1111]:8443", "https://[2606:4700:4700::1111]:8443"),
        ("https://[::ffff:8.8.8.8]", "https://[::ffff:8.8.8.8]"),
    ],
)
def test_accepted_origins(raw: str, origin: str) -> None:
    assert validate_public_url(raw) == origin


# --------------------------------------------------------------------------- shape


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("http://voice.example.com", "https://"),
        ("ws://voice.example.com", "https://"),
        ("ftp://voice.example.com", "https://"),
        ("voice.example.com", "https://"),
        ("", "https://"),
        ("https://voice.example.com/voice", "origin only"),
        ("https://voice.example.com/voice/answer", "origin only"),
        ("https://voice.example.com//", "origin only"),
        ("https://voice.example.com?x=1", "origin only"),
        ("https://voice.example.com/?x=1", "origin only"),
        ("https://voice.example.com?", "origin only"),
        ("https://voice.example.com#frag", "origin only"),
        ("https://user:pass@voice.example.com", "credentials"),
        ("https://user@voice.example.com", "credentials"),
        ("https://:pass@voice.example.com", "credentials"),
        ("https://", "no host"),
        ("https://voice.example.com:99999", "port"),
        ("https://voice.example.com:http", "port"),
    ],
)
def test_rejected_shapes(raw: str, reason: str) -> None:
    with pytest.raises(PublicUrlError, match=reason):
        validate_public_url(raw)


def test_error_is_a_value_error() -> None:
    # pydantic turns ValueErrors from validators into a keyed config error.
    assert issubclass(PublicUrlError, ValueError)


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "LOCALHOST",
        "localhost.",
        "app.localhost",
        "printer.local",
        "nas.internal",
        "metadata.google.internal",
        "router.lan",
        "box.home",
        "1.0.0.10.in-addr.arpa",
        "service.home.arpa",
        "dev.localdomain",
    ],
)
def test_local_names_rejected(host: str) -> None:
    with pytest.raises(PublicUrlError, match="local or internal"):
        validate_public_url(f"https://{host}")


@pytest.mark.parametrize("host", ["voice", "intranet", "tunnel"])
def test_dotless_names_rejected(host: str) -> None:
    with pytest.raises(PublicUrlError, match="fully qualified"):
        validate_public_url(f"https://{host}")


@pytest.mark.parametrize(
    "host",
    [
        "127.1",  # inet_aton shorthand for 127.0.0.1
        "10.1",  # 10.0.0.1
        "0x7f.0.0.1",  # hex octet
        "0177.0.0.1",  # octal octet
        "127.0.1",
        "2130706433",  # 127.0.0.1 as one integer
        "0x7f000001",
        "1.2.3.4.5",
    ],
)
def test_numeric_hosts_that_are_not_canonical_ips_rejected(host: str) -> None:
    """URL parsers (and getaddrinfo) read these as IPv4 addresses: never treat them as names."""
    with pytest.raises(PublicUrlError):
        validate_public_url(f"https://{host}")


# --------------------------------------------------------------------------- IPv4


@pytest.mark.parametrize(
    "ip",
    [
        "10.0.0.1",
        "10.255.255.255",
        "172.16.0.1",
        "172.31.255.254",
        "192.168.1.10",
        "127.0.0.1",
        "127.8.9.10",
        "169.254.169.254",  # link-local: cloud metadata
        "169.254.0.1",
        "100.64.0.1",  # CGNAT 100.64.0.0/10
        "100.100.100.200",
        "100.127.255.254",
        "224.0.0.1",  # multicast
        "239.255.255.250",
        "240.0.0.1",  # reserved
        "255.255.255.255",
        "0.0.0.0",
        "0.1.2.3",
        "192.0.2.1",  # TEST-NET-1
        "198.51.100.7",  # TEST-NET-2
        "203.0.113.9",  # TEST-NET-3
        "198.18.0.1",  # benchmarking
        "192.0.0.1",  # IETF protocol assignments
    ],
)
def test_non_public_ipv4_literals_rejected(ip: str) -> None:
    with pytest.raises(PublicUrlError, match="not a public address") as info:
        validate_public_url(f"https://{ip}")
    assert ip in str(info.value)
    assert not is_public_ip(ip)


@pytest.mark.parametrize("ip", ["8.8.8.8", "1.1.1.1", "100.63.255.255", "100.128.0.1", "52.1.2.3"])
def test_public_ipv4(ip: str) -> None:
    assert is_public_ip(ip)
    assert validate_public_url(f"https://{ip}") == f"https://{ip}"


# --------------------------------------------------------------------------- IPv6


@pytest.mark.parametrize(
    "ip",
    [
        "::1",  # loopback
        "::",  # unspecified
        "fc00::1",  # ULA fc00::/7
        "fd12:3456:789a::1",
        "fdff:ffff::1",
        "fe80::1",  # link-local
        "febf::1",
        "2001:db8::1",  # documentation
        "2001:db8:ffff::1",
        "ff02::1",  # multicast
        "ff0e::1",
        "::ffff:10.0.0.1",  # IPv4-mapped private
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
        "::ffff:169.254.169.254",
        "::ffff:100.64.0.1",
        "::ffff:0:0",
        "2002:0a00:0001::1",  # 6to4 of 10.0.0.1
        "2002:c0a8:0101::1",  # 6to4 of 192.168.1.1
        "2002:7f00:0001::",  # 6to4 of 127.0.0.1
        "64:ff9b::10.0.0.1",  # NAT64 of a private v4
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    ],
)
def test_non_public_ipv6_literals_rejected(ip: str) -> None:
    with pytest.raises(PublicUrlError, match="not a public address"):
        validate_public_url(f"https://[{ip}]")
    assert not is_public_ip(ip)


def test_ipv4_mapped_loopback_in_brackets_rejected() -> None:
    with pytest.raises(PublicUrlError, match="not a public address"):
        validate_public_url("https://[::ffff:127.0.0.1]")
    with pytest.raises(PublicUrlError, match="not a public address"):
        validate_public_url("https://[::ffff:7f00:1]:8443/")


def test_ipv6_with_zone_rejected() -> None:
    with pytest.raises(PublicUrlError):
        validate_public_url("https://[fe80::1%25eth0]")


@pytest.mark.parametrize(
    "ip",
    ["2606:4700:4700::1111", "2a00:1450:4001:80b::200e", "2002:0808:0808::1", "64:ff9b::808:808"],
)
def test_public_ipv6(ip: str) -> None:
    assert is_public_ip(ip)


@pytest.mark.parametrize("text", ["", "not-an-ip", "300.1.1.1", "example.com", "1.2.3"])
def test_is_public_ip_false_for_non_addresses(text: str) -> None:
    assert not is_public_ip(text)


# --------------------------------------------------------------------------- DNS


class FakeResolver:
    """A resolver answering `addresses` for any host; `seen` holds the hosts it was asked."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = list(addresses)
        self.seen: list[str] = []

    async def __call__(self, host: str) -> list[str]:
        self.seen.append(host)
        return list(self.addresses)


async def test_dns_all_public_ok() -> None:
    resolve = FakeResolver("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946")
    addresses = await check_public_dns("https://voice.example.com", resolve)
    assert addresses == ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]
    assert resolve.seen == ["voice.example.com"]


async def test_dns_host_with_port_resolves_host_only() -> None:
    resolve = FakeResolver("8.8.8.8")
    await check_public_dns("https://voice.example.com:8443", resolve)
    assert resolve.seen == ["voice.example.com"]


@pytest.mark.parametrize(
    "private",
    ["10.1.2.3", "127.0.0.1", "169.254.169.254", "100.64.1.1", "::1", "fd00::5", "::ffff:10.0.0.1"],
)
async def test_dns_any_private_address_rejected_and_named(private: str) -> None:
    resolve = FakeResolver("8.8.8.8", private, "1.1.1.1")
    with pytest.raises(PublicUrlError) as info:
        await check_public_dns("https://voice.example.com", resolve)
    message = str(info.value)
    assert private in message
    assert "voice.example.com" in message
    assert "8.8.8.8" not in message  # only the offending address is named


async def test_dns_all_private_names_each() -> None:
    resolve = FakeResolver("10.0.0.1", "192.168.0.1")
    with pytest.raises(PublicUrlError) as info:
        await check_public_dns("https://voice.example.com", resolve)
    assert "10.0.0.1" in str(info.value)
    assert "192.168.0.1" in str(info.value)


async def test_dns_garbage_answer_rejected() -> None:
    with pytest.raises(PublicUrlError, match="not-an-address"):
        await check_public_dns("https://voice.example.com", FakeResolver("not-an-address"))


async def test_dns_resolver_oserror_is_a_clear_error() -> None:
    async def failing(host: str) -> list[str]:
        raise OSError(-2, "Name or service not known")

    with pytest.raises(PublicUrlError, match="does not resolve") as info:
        await check_public_dns("https://voice.example.com", failing)
    assert "voice.example.com" in str(info.value)
    assert "Name or service not known" in str(info.value)


async def test_dns_gaierror_is_a_clear_error() -> None:
    import socket

    async def failing(host: str) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "nodename nor servname provided")

    with pytest.raises(PublicUrlError, match="does not resolve"):
        await check_public_dns("https://voice.example.com", failing)


async def test_dns_empty_answer_is_an_error() -> None:
    with pytest.raises(PublicUrlError, match="does not resolve"):
        await check_public_dns("https://voice.example.com", FakeResolver())


async def test_dns_ip_literal_checked_without_resolving() -> None:
    resolve = FakeResolver("10.0.0.1")
    assert await check_public_dns("https://8.8.8.8", resolve) == ["8.8.8.8"]
    assert await check_public_dns("https://[2606:4700:4700::1111]", resolve) == [
        "2606:4700:4700::1111"
    ]
    assert resolve.seen == []
    with pytest.raises(PublicUrlError, match=r"10\.0\.0\.1"):
        await check_public_dns("https://10.0.0.1", resolve)
