"""`voicecall-rt status` against a live simulated world: every check passes when all is in
place, and a wrong credential, number, key, model or missing setting fails its own check with
a reason, leaving the others be; without valid settings only the config check runs (the CLI
exits non-zero)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from tests.helpers.carrier_inputs import INPUTS, masked
from tests.helpers.status_checks import (
    assert_no_secrets,
    assert_only_failed,
    render_report,
    run_status_checks,
    status_settings,
    status_world,
)
from tests.helpers.world import MakeWorld
from voicecall_rt.carrier.twilio.rest import mask_sid
from voicecall_rt.simulator import world as sim
from voicecall_rt.simulator.twilio import fake as twilio_fake
from voicecall_rt.status import CheckResult, run_checks

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


def _all_checks(carrier: str) -> list[str]:
    return [carrier if name == "twilio" else name for name in ALL_CHECKS]


async def test_all_checks_pass_against_a_live_world(make_world: MakeWorld, carrier: str) -> None:
    world = await status_world(make_world)
    inputs = INPUTS[carrier]
    checks = await run_status_checks(world, status_settings(world))
    assert list(checks) == _all_checks(carrier)
    assert_only_failed(checks)
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

    report = json.loads(render_report(list(checks.values()), json_output=True))
    assert report["ok"] is True
    assert [c["name"] for c in report["checks"]] == _all_checks(carrier)
    text = render_report(list(checks.values()), json_output=False)
    if inputs.account_id:
        assert masked(inputs.account_id) in text


async def test_wrong_credential_fails_the_carrier_check(
    make_world: MakeWorld, carrier: str
) -> None:
    """Twilio's Auth Token, SignalWire's API token, Plivo's Auth Token, Telnyx's API key."""
    world = await status_world(make_world)
    inputs = INPUTS[carrier]
    wrong = "not-the-secret-" + "9" * 16
    checks = await run_status_checks(
        world, status_settings(world, **{inputs.credential_key: wrong})
    )
    assert_only_failed(checks, carrier)
    detail = checks[carrier].detail
    if inputs.account_id:
        assert masked(inputs.account_id) in detail
    assert "401" in detail or "refused" in detail, detail
    assert wrong not in detail
    # Without a working account there is no number to check.
    assert "fromNumber" not in checks
    report = json.loads(render_report(list(checks.values()), json_output=True))
    assert report["ok"] is False
    assert wrong not in render_report(list(checks.values()), json_output=False)


async def test_from_number_not_owned_fails_its_check(make_world: MakeWorld, carrier: str) -> None:
    world = await status_world(make_world)
    checks = await run_status_checks(world, status_settings(world, fromNumber="+14155550199"))
    assert_only_failed(checks, "fromNumber")
    assert "+14155550199" in checks["fromNumber"].detail
    assert "not a number of this account" in checks["fromNumber"].detail


async def test_wrong_openai_key_fails_the_openai_check(make_world: MakeWorld) -> None:
    world = await status_world(make_world)
    wrong = "sk-wrong-key-0123456789"
    checks = await run_status_checks(world, status_settings(world, **{"openai.apiKey": wrong}))
    assert_only_failed(checks, "openai")
    assert "refused" in checks["openai"].detail
    assert wrong not in checks["openai"].detail


async def test_unknown_model_fails_the_openai_check(make_world: MakeWorld) -> None:
    world = await status_world(make_world)
    checks = await run_status_checks(
        world, status_settings(world, **{"openai.model": "gpt-realtime-nope"})
    )
    assert_only_failed(checks, "openai")
    assert "gpt-realtime-nope" in checks["openai"].detail
    assert "not available" in checks["openai"].detail


async def test_missing_keys_are_listed_by_the_config_check(make_world: MakeWorld) -> None:
    world = await status_world(make_world)
    settings = status_settings(world, fromNumber=None, **{"openai.apiKey": None})
    checks = await run_status_checks(world, settings)
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
    report = json.loads(render_report(results, json_output=True))
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
    assert_no_secrets(out + err)
    report = json.loads(out)
    assert report["ok"] is False
    assert len(report["checks"]) == 1
    check = report["checks"][0]
    assert check["name"] == "config" and check["ok"] is False
    assert "publicUrl" in check["detail"]
