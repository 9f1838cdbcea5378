"""Running `voicecall-rt status` checks against a live simulated world: the world's own
settings with changes, the public URL reached through a stand-in tunnel, and every report
(text and JSON) checked to show no secret."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from rich.console import Console

from tests.helpers.carrier_inputs import INPUTS, all_secrets
from tests.helpers.world import MakeWorld
from voicecall_rt import status
from voicecall_rt.config import Settings
from voicecall_rt.simulator import world as sim
from voicecall_rt.simulator.scenario import CallPlan, ModelScript
from voicecall_rt.simulator.world import SimWorld
from voicecall_rt.status import CheckResult, HealthFetcher, print_report, run_checks


async def status_world(make_world: MakeWorld, *also_known: str) -> SimWorld:
    world = await make_world(CallPlan(), ModelScript())
    # The fake model's `/v1/models` knows a fixed list; it must know the configured model
    # (the default moved to gpt-realtime-2.1) for the openai check to pass.
    known = getattr(world.model, "models", None)
    wanted = (world.server.settings.openai.model, *also_known)
    if isinstance(known, tuple):
        world.model.models = (*known, *(m for m in wanted if m not in known))
    return world


def status_settings(world: SimWorld, **changes: Any) -> Settings:
    """The running server's settings (with the port it really listens on), re-validated with
    `changes` applied (dotted camelCase keys; None removes a key)."""
    data = world.server.settings.model_dump(by_alias=True, exclude_none=True)
    data["server"]["port"] = world.server.port
    for dotted, value in changes.items():
        node = data
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        if value is None:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return Settings.model_validate(data)


def fetch_via_tunnel(world: SimWorld) -> HealthFetcher:
    """A tunnel: the public URL is delivered to the loopback server, anything else as is."""

    async def fetch(url: str) -> tuple[int, str | None, str]:
        if url.startswith(sim.PUBLIC_URL + "/"):
            url = world.server.local_url + url[len(sim.PUBLIC_URL) :]
        return await status.fetch_health(url)

    return fetch


def _by_name(results: list[CheckResult]) -> dict[str, CheckResult]:
    names = [r.name for r in results]
    assert len(names) == len(set(names)), names
    return {r.name: r for r in results}


def render_report(results: list[CheckResult], *, json_output: bool) -> str:
    buffer = io.StringIO()
    print_report(results, Console(file=buffer, width=200), json_output=json_output)
    return buffer.getvalue()


def assert_no_secrets(text: str) -> None:
    for name, secret in all_secrets().items():
        assert secret not in text, name
    for row in INPUTS.values():
        assert not row.account_id or row.account_id not in text, f"{row.name} account id"
    assert sim.API_KEY not in text


async def run_status_checks(
    world: SimWorld,
    settings: Settings,
    *,
    resolver: Any = sim.tunnel_resolver,
    fetch: HealthFetcher | None = None,
    today: dt.date | None = None,
) -> dict[str, CheckResult]:
    results = await run_checks(
        settings, None, resolver=resolver, fetch=fetch or fetch_via_tunnel(world), today=today
    )
    for json_output in (False, True):
        assert_no_secrets(render_report(results, json_output=json_output))
    for result in results:
        assert_no_secrets(result.detail)
    return _by_name(results)


def assert_only_failed(checks: dict[str, CheckResult], *failed: str) -> None:
    assert sorted(n for n, c in checks.items() if not c.ok) == sorted(failed), checks
