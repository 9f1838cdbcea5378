"""`voicecall-rt status` on the way in: a public URL resolving to a private address fails
(and the tunnel is never tried), a tunnel answering something else or nothing fails its
check, and so does a server that is not listening."""

from __future__ import annotations

import socket

import pytest

from tests.helpers.status_checks import (
    assert_only_failed,
    fetch_via_tunnel,
    run_status_checks,
    status_settings,
    status_world,
)
from tests.helpers.world import MakeWorld
from voicecall_rt import status
from voicecall_rt.simulator import world as sim


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_public_url_resolving_to_a_private_address_fails(make_world: MakeWorld) -> None:
    world = await status_world(make_world)
    fetched: list[str] = []
    tunnel = fetch_via_tunnel(world)

    async def fetch(url: str) -> tuple[int, str | None, str]:
        fetched.append(url)
        return await tunnel(url)

    async def private_resolver(host: str) -> list[str]:
        return ["10.0.0.5"]

    checks = await run_status_checks(
        world, status_settings(world), resolver=private_resolver, fetch=fetch
    )
    # The tunnel is not even tried: nothing is fetched from a name that resolves inward.
    assert "tunnel" not in checks
    assert_only_failed(checks, "publicUrl")
    assert "10.0.0.5" in checks["publicUrl"].detail
    assert not any(url.startswith(sim.PUBLIC_URL) for url in fetched)
    assert checks["server"].ok


@pytest.mark.parametrize(
    "answer",
    [
        (404, None, "404: Not Found"),
        (200, None, "<html><body>It works!</body></html>"),
        (200, "ok", "<html>a lookalike without TwiML</html>"),
    ],
    ids=["not-found", "another-site", "lookalike-header"],
)
async def test_tunnel_answering_something_else_fails_the_tunnel_check(
    make_world: MakeWorld, answer: tuple[int, str | None, str]
) -> None:
    world = await status_world(make_world)
    tunnel = fetch_via_tunnel(world)

    async def fetch(url: str) -> tuple[int, str | None, str]:
        if url.startswith(sim.PUBLIC_URL):
            return answer
        return await tunnel(url)

    checks = await run_status_checks(world, status_settings(world), fetch=fetch)
    assert_only_failed(checks, "tunnel")
    assert f"HTTP {answer[0]}" in checks["tunnel"].detail
    assert "not with our health answer" in checks["tunnel"].detail


async def test_unreachable_tunnel_fails_the_tunnel_check(make_world: MakeWorld) -> None:
    world = await status_world(make_world)
    port = _free_port()

    async def fetch(url: str) -> tuple[int, str | None, str]:
        if url.startswith(sim.PUBLIC_URL + "/"):
            # The tunnel forwards to a port where nothing listens.
            url = f"http://127.0.0.1:{port}" + url[len(sim.PUBLIC_URL) :]
        return await status.fetch_health(url)

    checks = await run_status_checks(world, status_settings(world), fetch=fetch)
    assert_only_failed(checks, "tunnel")
    assert "unreachable" in checks["tunnel"].detail


async def test_no_server_listening_fails_the_server_check(make_world: MakeWorld) -> None:
    world = await status_world(make_world)
    port = _free_port()
    settings = status_settings(world, **{"server.port": port})
    checks = await run_status_checks(world, settings)
    assert_only_failed(checks, "server")
    assert "nothing is listening" in checks["server"].detail
    assert str(port) in checks["server"].detail
