"""`voicecall-rt status` against a live simulated world: every check passes when all is in
place, and each way it can be wrong fails its own check with a reason, leaving the others be."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from tests.helpers.carrier_inputs import INPUTS, all_secrets, masked
from tests.helpers.world import MakeWorld
from voicecall_rt import status
from voicecall_rt.call.records import CallRecord, CallStatus
from voicecall_rt.carrier.twilio.rest import mask_sid
from voicecall_rt.config import Settings
from voicecall_rt.simulator import world as sim
from voicecall_rt.simulator.scenario import CallPlan, ModelScript
from voicecall_rt.simulator.twilio import fake as twilio_fake
from voicecall_rt.simulator.world import SimWorld
from voicecall_rt.status import CheckResult, HealthFetcher, print_report, run_checks
from voicecall_rt.store.sqlite.files import DB_FILENAME

ALL_CHECKS = [
    "config",
    "twilio",  # the configured carrier's account
    "fromNumber",
    "openai",
    "models",
    "publicUrl",
    "tunnel",
    "server",
    "modelError",
    "store",
]
BEFORE_SHUTDOWNS = dt.date(2026, 11, 24)


async def _world(make_world: MakeWorld, *also_known: str) -> SimWorld:
    world = await make_world(CallPlan(), ModelScript())
    # The fake model's `/v1/models` knows a fixed list; it must know the configured model
    # (the default moved to gpt-realtime-2.1) for the openai check to pass.
    known = getattr(world.model, "models", None)
    wanted = (world.server.settings.openai.model, *also_known)
    if isinstance(known, tuple):
        world.model.models = (*known, *(m for m in wanted if m not in known))
    return world


def _settings(world: SimWorld, **changes: Any) -> Settings:
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


def _fetch_via_tunnel(world: SimWorld) -> HealthFetcher:
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


def _render(results: list[CheckResult], *, json_output: bool) -> str:
    buffer = io.StringIO()
    print_report(results, Console(file=buffer, width=200), json_output=json_output)
    return buffer.getvalue()


def _all_checks(carrier: str) -> list[str]:
    return [carrier if name == "twilio" else name for name in ALL_CHECKS]


def _assert_no_secrets(text: str) -> None:
    for name, secret in all_secrets().items():
        assert secret not in text, name
    for row in INPUTS.values():
        assert not row.account_id or row.account_id not in text, f"{row.name} account id"
    assert sim.API_KEY not in text


async def _checks(
    world: SimWorld,
    settings: Settings,
    *,
    resolver: Any = sim.tunnel_resolver,
    fetch: HealthFetcher | None = None,
    today: dt.date | None = None,
) -> dict[str, CheckResult]:
    results = await run_checks(
        settings, None, resolver=resolver, fetch=fetch or _fetch_via_tunnel(world), today=today
    )
    for json_output in (False, True):
        _assert_no_secrets(_render(results, json_output=json_output))
    for result in results:
        _assert_no_secrets(result.detail)
    return _by_name(results)


def _assert_only_failed(checks: dict[str, CheckResult], *failed: str) -> None:
    assert sorted(n for n, c in checks.items() if not c.ok) == sorted(failed), checks


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_all_checks_pass_against_a_live_world(make_world: MakeWorld, carrier: str) -> None:
    world = await _world(make_world)
    inputs = INPUTS[carrier]
    checks = await _checks(world, _settings(world))
    assert list(checks) == _all_checks(carrier)
    _assert_only_failed(checks)
    assert checks["config"].detail == "valid"
    if inputs.account_id:
        assert masked(inputs.account_id) in checks[carrier].detail
    if carrier == "twilio":
        assert mask_sid(twilio_fake.ACCOUNT_SID) == masked(twilio_fake.ACCOUNT_SID)
        assert "active" in checks["twilio"].detail
    assert sim.FROM_NUMBER in checks["fromNumber"].detail
    assert "belongs to the account" in checks["fromNumber"].detail
    assert "gpt-realtime-2.1" in checks["openai"].detail
    assert checks["models"].detail == (
        "gpt-realtime-2.1 (reasoning effort low), transcription gpt-transcribe:"
        " no shutdown announced"
    )
    assert not any(c.warning for c in checks.values())
    assert "no call ended on a fatal model error" in checks["modelError"].detail
    assert sim.TUNNEL_ADDRESS in checks["publicUrl"].detail
    assert f"{sim.PUBLIC_URL}/voice/answer" in checks["tunnel"].detail
    assert str(world.server.port) in checks["server"].detail
    assert (
        checks["store"].detail.startswith("SQLite at ") and "one machine" in checks["store"].detail
    )

    report = json.loads(_render(list(checks.values()), json_output=True))
    assert report["ok"] is True
    assert [c["name"] for c in report["checks"]] == _all_checks(carrier)
    text = _render(list(checks.values()), json_output=False)
    if inputs.account_id:
        assert masked(inputs.account_id) in text


async def test_wrong_credential_fails_the_carrier_check(
    make_world: MakeWorld, carrier: str
) -> None:
    """Twilio's Auth Token, SignalWire's API token, Plivo's Auth Token, Telnyx's API key."""
    world = await _world(make_world)
    inputs = INPUTS[carrier]
    wrong = "not-the-secret-" + "9" * 16
    checks = await _checks(world, _settings(world, **{inputs.credential_key: wrong}))
    _assert_only_failed(checks, carrier)
    detail = checks[carrier].detail
    if inputs.account_id:
        assert masked(inputs.account_id) in detail
    assert "401" in detail or "refused" in detail, detail
    assert wrong not in detail
    # Without a working account there is no number to check.
    assert "fromNumber" not in checks
    report = json.loads(_render(list(checks.values()), json_output=True))
    assert report["ok"] is False
    assert wrong not in _render(list(checks.values()), json_output=False)


async def test_from_number_not_owned_fails_its_check(make_world: MakeWorld, carrier: str) -> None:
    world = await _world(make_world)
    checks = await _checks(world, _settings(world, fromNumber="+14155550199"))
    _assert_only_failed(checks, "fromNumber")
    assert "+14155550199" in checks["fromNumber"].detail
    assert "not a number of this account" in checks["fromNumber"].detail


async def test_wrong_openai_key_fails_the_openai_check(make_world: MakeWorld) -> None:
    world = await _world(make_world)
    wrong = "sk-wrong-key-0123456789"
    checks = await _checks(world, _settings(world, **{"openai.apiKey": wrong}))
    _assert_only_failed(checks, "openai")
    assert "refused" in checks["openai"].detail
    assert wrong not in checks["openai"].detail


async def test_unknown_model_fails_the_openai_check(make_world: MakeWorld) -> None:
    world = await _world(make_world)
    checks = await _checks(world, _settings(world, **{"openai.model": "gpt-realtime-nope"}))
    _assert_only_failed(checks, "openai")
    assert "gpt-realtime-nope" in checks["openai"].detail
    assert "not available" in checks["openai"].detail


async def test_public_url_resolving_to_a_private_address_fails(make_world: MakeWorld) -> None:
    world = await _world(make_world)
    fetched: list[str] = []
    tunnel = _fetch_via_tunnel(world)

    async def fetch(url: str) -> tuple[int, str | None, str]:
        fetched.append(url)
        return await tunnel(url)

    async def private_resolver(host: str) -> list[str]:
        return ["10.0.0.5"]

    checks = await _checks(world, _settings(world), resolver=private_resolver, fetch=fetch)
    # The tunnel is not even tried: nothing is fetched from a name that resolves inward.
    assert "tunnel" not in checks
    _assert_only_failed(checks, "publicUrl")
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
    world = await _world(make_world)
    tunnel = _fetch_via_tunnel(world)

    async def fetch(url: str) -> tuple[int, str | None, str]:
        if url.startswith(sim.PUBLIC_URL):
            return answer
        return await tunnel(url)

    checks = await _checks(world, _settings(world), fetch=fetch)
    _assert_only_failed(checks, "tunnel")
    assert f"HTTP {answer[0]}" in checks["tunnel"].detail
    assert "not with our health answer" in checks["tunnel"].detail


async def test_unreachable_tunnel_fails_the_tunnel_check(make_world: MakeWorld) -> None:
    world = await _world(make_world)
    port = _free_port()

    async def fetch(url: str) -> tuple[int, str | None, str]:
        if url.startswith(sim.PUBLIC_URL + "/"):
            # The tunnel forwards to a port where nothing listens.
            url = f"http://127.0.0.1:{port}" + url[len(sim.PUBLIC_URL) :]
        return await status.fetch_health(url)

    checks = await _checks(world, _settings(world), fetch=fetch)
    _assert_only_failed(checks, "tunnel")
    assert "unreachable" in checks["tunnel"].detail


async def test_no_server_listening_fails_the_server_check(make_world: MakeWorld) -> None:
    world = await _world(make_world)
    port = _free_port()
    settings = _settings(world, **{"server.port": port})
    checks = await _checks(world, settings)
    _assert_only_failed(checks, "server")
    assert "nothing is listening" in checks["server"].detail
    assert str(port) in checks["server"].detail


async def test_missing_keys_are_listed_by_the_config_check(make_world: MakeWorld) -> None:
    world = await _world(make_world)
    settings = _settings(world, fromNumber=None, **{"openai.apiKey": None})
    checks = await _checks(world, settings)
    assert not checks["config"].ok
    assert checks["config"].detail == "missing: fromNumber, openai.apiKey"
    assert not checks["fromNumber"].ok and "not set" in checks["fromNumber"].detail
    assert not checks["openai"].ok and "not set" in checks["openai"].detail
    # What does not depend on the missing keys still passes.
    for name in ("twilio", "publicUrl", "tunnel", "server"):
        assert checks[name].ok, checks[name]


async def test_no_settings_gives_a_single_failed_config_check() -> None:
    error = "invalid configuration:\n  publicUrl: must be an https origin"
    results = await run_checks(None, error)
    assert results == [CheckResult("config", False, error)]
    report = json.loads(_render(results, json_output=True))
    assert report == {"ok": False, "checks": [{"name": "config", "ok": False, "detail": error}]}


@pytest.mark.slow  # the CLI as a child process
async def test_status_cli_with_an_invalid_config_exits_nonzero(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "twilio": {
                    "accountSid": twilio_fake.ACCOUNT_SID,
                    "authToken": twilio_fake.AUTH_TOKEN,
                },
                "fromNumber": sim.FROM_NUMBER,
                "openai": {"apiKey": sim.API_KEY},
                "publicUrl": "https://localhost",
                "dataDir": str(tmp_path / "data"),
            }
        ),
        encoding="utf-8",
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "OPENAI_API_KEY")
        and not k.startswith("VOICECALL_RT")
    }
    env["HOME"] = str(tmp_path)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from voicecall_rt.cli import main; main()",
        "status",
        "--json",
        "--config",
        str(config),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    async with asyncio.timeout(60):
        stdout, stderr = await process.communicate()
    out, err = stdout.decode(), stderr.decode()
    assert process.returncode not in (0, None), (out, err)
    assert "Traceback" not in out + err
    _assert_no_secrets(out + err)
    report = json.loads(out)
    assert report["ok"] is False
    assert len(report["checks"]) == 1
    check = report["checks"][0]
    assert check["name"] == "config" and check["ok"] is False
    assert "publicUrl" in check["detail"]


# ---- models about to shut down, and fatal model errors ------------------------------------

OLD_MODELS = {"openai.model": "gpt-realtime", "openai.transcriptionModel": "gpt-4o-mini-transcribe"}


async def test_models_with_a_shutdown_date_warn_with_the_date(make_world: MakeWorld) -> None:
    world = await _world(make_world, "gpt-realtime")
    checks = await _checks(world, _settings(world, **OLD_MODELS), today=BEFORE_SHUTDOWNS)
    _assert_only_failed(checks)  # a warning is not a failure while there is time
    models = checks["models"]
    assert models.ok and models.warning
    assert "openai.model 'gpt-realtime' shuts down on 2027-01-20 (in 57 days)" in models.detail
    assert "set openai.model = 'gpt-realtime-2.1'" in models.detail
    assert "openai.transcriptionModel 'gpt-4o-mini-transcribe' shuts down on 2027-02-26" in (
        models.detail
    )
    report = json.loads(_render(list(checks.values()), json_output=True))
    assert report["ok"] is True
    [shown] = [c for c in report["checks"] if c["name"] == "models"]
    assert shown["warning"] is True and shown["ok"] is True
    assert all("warning" not in c for c in report["checks"] if c["name"] != "models")
    text = _render(list(checks.values()), json_output=False)
    assert any(
        line.startswith("warning models") and "2027-01-20" in line for line in text.splitlines()
    ), text


async def test_a_model_past_its_shutdown_fails_the_models_check(make_world: MakeWorld) -> None:
    world = await _world(make_world, "gpt-realtime")
    settings = _settings(world, **{"openai.model": "gpt-realtime"})
    checks = await _checks(world, settings, today=dt.date(2027, 1, 21))
    _assert_only_failed(checks, "models")
    assert "was shut down by OpenAI on 2027-01-20" in checks["models"].detail
    report = json.loads(_render(list(checks.values()), json_output=True))
    assert report["ok"] is False
    assert any(
        line.startswith("failed  models")
        for line in _render(list(checks.values()), json_output=False).splitlines()
    )


def _ended(call_id: str, ended_at: int, reason: str, error: str | None) -> CallRecord:
    return CallRecord(
        id=call_id,
        direction="outbound",
        from_number=sim.FROM_NUMBER,
        to_number="+14155550123",
        status=CallStatus.FAILED,
        created_at=ended_at - 5_000,
        ended_at=ended_at,
        end_reason=reason,
        error=error,
    )


async def test_the_last_fatal_model_error_is_shown(make_world: MakeWorld) -> None:
    world = await _world(make_world)
    store = world.server.store
    base = 1_790_000_000_000
    # OpenAI's words, brackets and all: shown as text, never as console markup.
    quota = "insufficient_quota: You exceeded your current quota [bold]check your plan[/bold]."
    for record in (
        _ended("call_refused0000001", base, "model-refused", "invalid_value: bad format"),
        _ended("call_fatal000000002", base + 60_000, "model-fatal", quota),
        # Later, but neither is fatal: a passing failure, and an ordinary end.
        _ended("call_failed00000003", base + 120_000, "model-failed", "server_error: retry"),
        _ended("call_hangup00000004", base + 180_000, "callee-hangup", None),
    ):
        store.insert_call(record)
    await store.flush()
    checks = await _checks(world, _settings(world))
    _assert_only_failed(checks)
    check = checks["modelError"]
    assert check.ok and check.warning
    when = dt.datetime.fromtimestamp((base + 60_000) / 1000).strftime("%Y-%m-%d %H:%M:%S")
    assert check.detail == (
        f"last fatal model error {when} (call call_fatal000000002, model-fatal): {quota}"
    )
    assert quota in _render(list(checks.values()), json_output=False)


async def test_no_history_reads_as_none_and_creates_nothing(
    make_world: MakeWorld, tmp_path: Path
) -> None:
    world = await _world(make_world)
    empty = tmp_path / "no-history-here"
    checks = await _checks(world, _settings(world, dataDir=str(empty)))
    assert checks["modelError"].ok and not checks["modelError"].warning
    assert not (empty / DB_FILENAME).exists() and not empty.exists()
