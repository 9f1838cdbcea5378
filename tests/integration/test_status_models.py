"""`voicecall-rt status` on the models: one with a shutdown date warns with the date, one past
it fails, and the last call that ended on a fatal model error is shown (as text), while no
history reads as none and creates nothing."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from tests.helpers.status_checks import (
    assert_only_failed,
    render_report,
    run_status_checks,
    status_settings,
    status_world,
)
from tests.helpers.world import MakeWorld
from voicecall_rt.call.records import CallRecord, CallStatus
from voicecall_rt.simulator import world as sim
from voicecall_rt.store.sqlite.files import DB_FILENAME

BEFORE_SHUTDOWNS = dt.date(2026, 11, 24)
OLD_MODELS = {"openai.model": "gpt-realtime", "openai.transcriptionModel": "gpt-4o-mini-transcribe"}


async def test_models_with_a_shutdown_date_warn_with_the_date(make_world: MakeWorld) -> None:
    world = await status_world(make_world, "gpt-realtime")
    checks = await run_status_checks(
        world, status_settings(world, **OLD_MODELS), today=BEFORE_SHUTDOWNS
    )
    assert_only_failed(checks)  # a warning is not a failure while there is time
    models = checks["models"]
    assert models.ok and models.warning
    assert "openai.model 'gpt-realtime' shuts down on 2027-01-20 (in 57 days)" in models.detail
    assert "set openai.model = 'gpt-realtime-2.1'" in models.detail
    assert "openai.transcriptionModel 'gpt-4o-mini-transcribe' shuts down on 2027-02-26" in (
        models.detail
    )
    report = json.loads(render_report(list(checks.values()), json_output=True))
    assert report["ok"] is True
    [shown] = [c for c in report["checks"] if c["name"] == "models"]
    assert shown["warning"] is True and shown["ok"] is True
    assert all("warning" not in c for c in report["checks"] if c["name"] != "models")
    text = render_report(list(checks.values()), json_output=False)
    assert any(
        line.startswith("warning models") and "2027-01-20" in line for line in text.splitlines()
    ), text


async def test_a_model_past_its_shutdown_fails_the_models_check(make_world: MakeWorld) -> None:
    world = await status_world(make_world, "gpt-realtime")
    settings = status_settings(world, **{"openai.model": "gpt-realtime"})
    checks = await run_status_checks(world, settings, today=dt.date(2027, 1, 21))
    assert_only_failed(checks, "models")
    assert "was shut down by OpenAI on 2027-01-20" in checks["models"].detail
    report = json.loads(render_report(list(checks.values()), json_output=True))
    assert report["ok"] is False
    assert any(
        line.startswith("failed  models")
        for line in render_report(list(checks.values()), json_output=False).splitlines()
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
    world = await status_world(make_world)
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
    checks = await run_status_checks(world, status_settings(world))
    assert_only_failed(checks)
    check = checks["modelError"]
    assert check.ok and check.warning
    when = dt.datetime.fromtimestamp((base + 60_000) / 1000).strftime("%Y-%m-%d %H:%M:%S")
    assert check.detail == (
        f"last fatal model error {when} (call call_fatal000000002, model-fatal): {quota}"
    )
    assert quota in render_report(list(checks.values()), json_output=False)


async def test_no_history_reads_as_none_and_creates_nothing(
    make_world: MakeWorld, tmp_path: Path
) -> None:
    world = await status_world(make_world)
    empty = tmp_path / "no-history-here"
    checks = await run_status_checks(world, status_settings(world, dataDir=str(empty)))
    assert checks["modelError"].ok and not checks["modelError"].warning
    assert not (empty / DB_FILENAME).exists() and not empty.exists()
