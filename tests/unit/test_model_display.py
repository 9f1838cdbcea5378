"""How model troubles reach people: `serve`'s shutdown warnings (log and console), and a
call's model error in `calls show`, the outcome panel and the followed timeline."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from voicecall_rt import cli, logs
from voicecall_rt.cli import call as call_cmd
from voicecall_rt.cli import serve as serve_cmd
from voicecall_rt.config import Settings
from voicecall_rt.model import catalog
from voicecall_rt.render import (
    describe_error,
    print_entry,
    print_model_notices,
    print_outcome,
    show_call,
)

QUOTA = "insufficient_quota: You exceeded your current quota, please check your plan."
OLD = {"openai": {"model": "gpt-realtime", "transcriptionModel": "gpt-4o-mini-transcribe"}}


def _console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=300, color_system=None), buffer


# ---- shutdown warnings -------------------------------------------------------------------


def test_shutdown_notices_are_logged_warning_then_error(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings.model_validate(OLD)
    with caplog.at_level(logging.INFO, logger="voicecall_rt.models"):
        notices = catalog.log_shutdown_notices(settings, dt.date(2026, 11, 24))
    assert [(r.levelno, r.name) for r in caplog.records] == [
        (logging.WARNING, "voicecall_rt.models"),
        (logging.WARNING, "voicecall_rt.models"),
    ]
    assert caplog.records[0].getMessage() == notices[0].message
    assert "2027-01-20" in caplog.records[0].getMessage()
    assert caplog.records[0].__dict__["model_shutdown"]["model"] == "gpt-realtime"
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="voicecall_rt.models"):
        catalog.log_shutdown_notices(settings, dt.date(2027, 1, 25))
    assert [r.levelno for r in caplog.records] == [logging.ERROR, logging.WARNING]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="voicecall_rt.models"):
        assert catalog.log_shutdown_notices(Settings(), dt.date(2026, 11, 24)) == []
    assert caplog.records == []


def test_console_shows_each_notice_with_its_level() -> None:
    settings = Settings.model_validate(OLD)
    console, buffer = _console()
    print_model_notices(catalog.shutdown_notices(settings, dt.date(2027, 2, 1)), console)
    first, second = buffer.getvalue().splitlines()
    assert first.startswith("error: openai.model 'gpt-realtime' was shut down by OpenAI")
    assert second.startswith("warning: openai.transcriptionModel 'gpt-4o-mini-transcribe'")
    assert "2027-02-26 (in 25 days)" in second


def test_serve_logs_the_notices_before_it_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restore_logging: None
) -> None:
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                **OLD,
                "twilio": {"accountSid": "AC" + "0" * 32, "authToken": "tw-token-0123456789"},
                "fromNumber": "+14155550100",
                "publicUrl": "https://voice.example.com",
                "dataDir": str(tmp_path / "data"),
            }
        )
    )
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789abcdef")
    started: list[Coroutine[Any, Any, None]] = []
    monkeypatch.setattr(serve_cmd, "run_fast", started.append)
    stream = io.StringIO()
    real_setup = logs.setup_logging
    monkeypatch.setattr(
        serve_cmd, "setup_logging", lambda *a, **k: real_setup(*a, **{**k, "stream": stream})
    )
    result = CliRunner().invoke(cli.app, ["serve", "--config", str(config), "--log-format", "json"])
    assert result.exit_code == 0, result.output
    [server] = started
    server.close()  # never run: only what serve does before it starts is under test
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    shutdowns = [line for line in lines if line["logger"] == "voicecall_rt.models"]
    assert [line["model_shutdown"]["model"] for line in shutdowns] == [
        "gpt-realtime",
        "gpt-4o-mini-transcribe",
    ]
    assert all(line["level"] in ("WARNING", "ERROR") for line in shutdowns)
    assert "sk-test" not in stream.getvalue()


# ---- a call's model error ----------------------------------------------------------------


def _record(**fields: Any) -> dict[str, Any]:
    return {
        "id": "call_0123",
        "direction": "outbound",
        "from_number": "+14155550100",
        "to_number": "+14155550123",
        "status": "completed",
        "end_reason": "model-fatal",
        "duration_s": 3.0,
        "answered_by": None,
        "outcome": None,
        "cost": None,
        "error": QUOTA,
        **fields,
    }


def test_describe_error_says_what_a_model_end_reason_means() -> None:
    assert describe_error(_record()) == (
        QUOTA + " (OpenAI refused the account (quota, billing, API key): every call will fail"
        " until that is fixed)"
    )
    assert "refused the session" in (describe_error(_record(end_reason="model-refused")) or "")
    assert describe_error(_record(end_reason="carrier")) == QUOTA
    assert describe_error(_record(error=None)) is None


def test_calls_show_prints_the_error() -> None:
    console, buffer = _console()
    marked = QUOTA + " [bold]not markup[/bold]"
    show_call(console, {"call": _record(error=marked), "transcript": [], "latency": None})
    lines = buffer.getvalue().splitlines()
    assert "reason: model-fatal" in lines[1]
    assert lines[2].startswith("error: " + marked + " (OpenAI refused the account")
    buffer.truncate(0)
    buffer.seek(0)
    show_call(console, {"call": _record(error=None, end_reason="callee-hangup"), "transcript": []})
    assert "error:" not in buffer.getvalue()


def test_outcome_panel_and_followed_timeline_show_the_model_error() -> None:
    console, buffer = _console()
    print_outcome(console, {"call": _record(), "events": []})
    assert "insufficient_quota: You exceeded your current quota" in buffer.getvalue()
    assert "error" in buffer.getvalue()
    console, buffer = _console()
    entry = {"t_ms": 1500, "kind": "model.fatal", "data": {"error": QUOTA + " [x]"}}
    print_entry(console, entry)
    assert buffer.getvalue().strip() == (f"1.5s   model  account error, the call ends: {QUOTA} [x]")


def test_call_wait_json_carries_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    console, printed = _console()
    errors, stderr = _console()
    monkeypatch.setattr(call_cmd, "out", console)
    monkeypatch.setattr(call_cmd, "err", errors)
    assert call_cmd.report_call({"call": _record(), "transcript": []}, json_output=True) == 1
    result = json.loads(printed.getvalue())
    assert (result["end_reason"], result["error"]) == ("model-fatal", QUOTA)
    assert stderr.getvalue().strip().startswith(f"error: call model-fatal: {QUOTA} (OpenAI")
