"""Logging: JSON lines (one object each, with extras), text lines, and secrets redacted
wherever they turn up (message, arguments, extras, tracebacks)."""

from __future__ import annotations

import io
import json
import logging

import pytest

from voicecall_rt import logs
from voicecall_rt.config import Settings

TWILIO_TOKEN = "tw-0123456789abcdef0123456789abcdef"
OPENAI_KEY = "sk-proj-PLANTEDsecret0123456789"
API_TOKEN = "local-api-token-XYZ-0123456789"


def _settings() -> Settings:
    return Settings.model_validate(
        {"twilio": {"authToken": TWILIO_TOKEN}, "openai": {"apiKey": OPENAI_KEY}}
    )


def test_settings_secrets_are_collected() -> None:
    assert set(logs.settings_secrets(_settings())) == {TWILIO_TOKEN, OPENAI_KEY}


def test_json_format_one_object_per_line(restore_logging: None) -> None:
    stream = io.StringIO()
    logs.setup_logging(False, "json", stream=stream)
    log = logging.getLogger("voicecall_rt.test")
    log.info("call %s placed", "call_1", extra={"call_id": "call_1", "attempt": 2})
    log.warning("second line\nwith a newline inside")
    log.debug("not shown outside debug mode")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["level"] == "INFO"
    assert first["logger"] == "voicecall_rt.test"
    assert first["message"] == "call call_1 placed"
    assert first["call_id"] == "call_1" and first["attempt"] == 2
    assert first["time"].endswith("+00:00") and "T" in first["time"]
    assert second["message"] == "second line\nwith a newline inside"
    assert second["level"] == "WARNING"


def test_json_format_carries_tracebacks(restore_logging: None) -> None:
    stream = io.StringIO()
    logs.setup_logging(False, "json", stream=stream)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("voicecall_rt.test").exception("it failed")
    [line] = stream.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["message"] == "it failed"
    assert "RuntimeError: boom" in entry["exc"]


def test_text_format_is_for_people(restore_logging: None) -> None:
    stream = io.StringIO()
    logs.setup_logging(True, "text", stream=stream)
    logging.getLogger("voicecall_rt.test").debug("listening on %s", "http://127.0.0.1:1")
    [line] = stream.getvalue().splitlines()
    assert line.endswith("DEBUG   voicecall_rt.test: listening on http://127.0.0.1:1")


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_planted_secrets_are_redacted(restore_logging: None, log_format: logs.LogFormat) -> None:
    stream = io.StringIO()
    logs.setup_logging(False, log_format, logs.settings_secrets(_settings()), stream=stream)
    logs.add_secrets(API_TOKEN)
    log = logging.getLogger("voicecall_rt.test")
    log.info("token is %s", TWILIO_TOKEN)
    log.info(f"key {OPENAI_KEY} in the message itself")
    log.info("extras", extra={"headers": {"Authorization": f"Bearer {API_TOKEN}"}})
    log.info("some other key sk-abcdefghijklmnop0123 leaked")
    log.info("header Authorization: Bearer abc.def-ghi")
    try:
        raise ValueError(f"bad credentials {TWILIO_TOKEN}")
    except ValueError:
        log.exception("failure")
    text = stream.getvalue()
    for secret in (TWILIO_TOKEN, OPENAI_KEY, API_TOKEN, "sk-abcdefghijklmnop0123", "abc.def-ghi"):
        assert secret not in text
    # text lines do not show extras; JSON ones do
    assert text.count(logs.REDACTED) == (6 if log_format == "json" else 5)
    if log_format == "json":
        for line in text.splitlines():
            json.loads(line)  # still one valid object per line


def test_short_values_are_not_treated_as_secrets(restore_logging: None) -> None:
    stream = io.StringIO()
    logs.setup_logging(False, "text", ["abc"], stream=stream)
    logging.getLogger("voicecall_rt.test").info("abc stays")
    assert "abc stays" in stream.getvalue()


def test_setting_up_again_replaces_the_handler(restore_logging: None) -> None:
    first, second = io.StringIO(), io.StringIO()
    logs.setup_logging(False, "text", stream=first)
    logs.setup_logging(False, "json", stream=second)
    logging.getLogger("voicecall_rt.test").info("once")
    assert first.getvalue() == ""
    assert json.loads(second.getvalue())["message"] == "once"


def test_chatty_clients_are_quiet_unless_debugging(restore_logging: None) -> None:
    # picows logs each model connection at INFO: one line per call is noise.
    logs.setup_logging(False, "text", stream=io.StringIO())
    for name in ("picows.client", "twilio.http_client", "aiohttp.access"):
        assert logging.getLogger(name).getEffectiveLevel() == logging.WARNING, name
    logs.setup_logging(True, "text", stream=io.StringIO())
    assert logging.getLogger("picows.client").getEffectiveLevel() == logging.DEBUG
