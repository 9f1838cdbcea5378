"""Configuration with nothing set and what must be set: every default, the config template
against the settings and the SDK, the keys a call still needs, and the secrets (auth
token, API key) kept out of every rendering and every error message.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from tests.helpers.config_files import GA_VOICES, GOOD_SID, config_error, load_dict
from voicecall_rt.config import ConfigError, Settings
from voicecall_rt.config_file import load_settings
from voicecall_rt.config_template import TEMPLATE
from voicecall_rt.prices import CARRIER_PER_MINUTE

pytestmark = pytest.mark.usefixtures("isolated_home")  # tests/unit/conftest.py


# --------------------------------------------------------------------------- defaults


def test_defaults_of_every_key(isolated_home: Path) -> None:
    s = load_settings(env={})
    assert s.twilio.account_sid is None
    assert s.twilio.auth_token is None
    assert s.twilio.api_base_url == "https://api.twilio.com"
    assert s.from_number is None
    assert s.openai.api_key is None
    assert s.openai.model == "gpt-realtime-2.1"
    assert s.openai.reasoning_effort == "low"
    assert s.openai.voice == "coral"
    assert s.openai.realtime_url == "wss://api.openai.com/v1/realtime"
    assert s.openai.transcription_model == "gpt-transcribe"
    assert s.openai.transcription_language is None
    assert s.vad.type == "semantic_vad"
    assert s.vad.eagerness == "medium"
    assert s.public_url is None
    assert s.server.port == 3335
    assert s.server.bind == "127.0.0.1"
    assert s.calls.max_duration_seconds == 600
    assert s.calls.timeout_seconds == 30
    assert s.calls.enable_amd is True
    assert s.calls.max_concurrent == 5
    assert s.inbound.enabled is False
    assert s.inbound.policy == "disabled"
    assert s.inbound.allow_from == []
    assert s.inbound.greeting == "Hey! What's up?"
    assert s.inbound.system_prompt is None
    assert s.debug is False
    assert s.data_dir == isolated_home / ".openclaw" / "voice-calls-realtime"


def test_default_data_dir_is_expanded_not_a_literal_tilde(isolated_home: Path) -> None:
    s = Settings()
    assert "~" not in str(s.data_dir)
    assert s.data_dir.is_absolute()
    assert s.data_dir == isolated_home / ".openclaw" / "voice-calls-realtime"


def test_default_transcription_model_is_one_the_sdk_lists_without_a_shutdown() -> None:
    from typing import get_args

    from openai.types.realtime.audio_transcription import AudioTranscription

    from voicecall_rt.model import catalog

    listed = {
        value
        for arg in get_args(AudioTranscription.model_fields["model"].annotation)
        for value in get_args(arg)
    }
    default = Settings().openai
    assert default.transcription_model in listed
    assert catalog.shutdown_date(default.transcription_model) is None
    assert catalog.shutdown_date(default.model) is None
    assert catalog.supports_reasoning(default.model)


def test_template_parses_to_valid_settings(tmp_path: Path) -> None:
    data = tomllib.loads(TEMPLATE)
    s = Settings.model_validate(data)
    assert s.openai.model == "gpt-realtime-2.1"
    assert s.openai.reasoning_effort == "low"
    assert s.openai.transcription_model == "gpt-transcribe"
    assert s.openai.voice == "coral"
    assert s.server.port == 3335
    assert s.server.bind == "127.0.0.1"
    assert s.calls.max_concurrent == 5
    assert s.inbound.policy == "disabled"
    assert s.inbound.greeting == "Hey! What's up?"
    assert s.public_url == "https://voice.example.com"
    # and through the file loader
    path = tmp_path / "config.toml"
    path.write_text(TEMPLATE, encoding="utf-8")
    assert load_settings(path, env={}).twilio.account_sid == s.twilio.account_sid


def test_template_prices_parse_when_uncommented() -> None:
    lines = TEMPLATE.splitlines()
    start = lines.index("[pricing]")
    # Only the commented-out settings, not the comments about them.
    uncommented = [line[2:] if re.match(r"# (\[|\w+ = )", line) else line for line in lines[start:]]
    data = tomllib.loads("\n".join(lines[:start] + uncommented))
    pricing = Settings.model_validate(data).pricing
    models = pricing.models
    assert pricing.carrier_per_minute == dict(CARRIER_PER_MINUTE)  # the built-in rates
    assert models["gpt-realtime-2.1"].text_out == 24.0
    assert models["gpt-transcribe"].per_minute == 0.0045


def test_template_mentions_every_ga_voice() -> None:
    for voice in GA_VOICES:
        assert voice in TEMPLATE


# --------------------------------------------------------------------------- required


def test_missing_for_calls_lists_every_required_key() -> None:
    assert load_settings(env={}).missing_for_calls() == [
        "twilio.accountSid",
        "twilio.authToken",
        "fromNumber",
        "openai.apiKey",
        "publicUrl",
    ]


def test_missing_for_calls_empty_when_complete(tmp_path: Path) -> None:
    s = load_dict(
        tmp_path,
        {
            "twilio": {"accountSid": GOOD_SID, "authToken": "t"},
            "fromNumber": "+15555550100",
            "openai": {"apiKey": "k"},
            "publicUrl": "https://voice.example.com",
        },
    )
    assert s.missing_for_calls() == []
    s.require_for_calls()


def test_missing_for_calls_treats_empty_secrets_as_missing(tmp_path: Path) -> None:
    s = load_dict(
        tmp_path,
        {
            "twilio": {"accountSid": GOOD_SID, "authToken": ""},
            "fromNumber": "+15555550100",
            "openai": {"apiKey": ""},
            "publicUrl": "https://voice.example.com",
        },
    )
    assert s.missing_for_calls() == ["twilio.authToken", "openai.apiKey"]
    with pytest.raises(ConfigError, match=r"twilio\.authToken, openai\.apiKey"):
        s.require_for_calls()


# --------------------------------------------------------------------------- secrets

SECRET_TOKEN = "tw-SUPER-SECRET-token-0451"
SECRET_KEY = "sk-SUPER-SECRET-key-0451"


def test_secrets_are_secretstr_and_hidden() -> None:
    s = load_settings(env={"TWILIO_AUTH_TOKEN": SECRET_TOKEN, "OPENAI_API_KEY": SECRET_KEY})
    assert isinstance(s.twilio.auth_token, SecretStr)
    assert isinstance(s.openai.api_key, SecretStr)
    for rendering in (
        repr(s),
        str(s),
        s.model_dump_json(),
        repr(s.twilio),
        str(s.openai),
        repr(s.model_dump()),
        f"{s}",
    ):
        assert SECRET_TOKEN not in rendering
        assert SECRET_KEY not in rendering
    assert s.twilio.auth_token.get_secret_value() == SECRET_TOKEN
    assert s.openai.api_key.get_secret_value() == SECRET_KEY


@pytest.mark.parametrize(
    "data",
    [
        {"twilio": {"authToken": [SECRET_TOKEN]}, "openai": {"apiKey": {"k": SECRET_KEY}}},
        {"twilio": {"authToken": {SECRET_TOKEN: 1}}, "openai": {"apiKey": [SECRET_KEY, 1]}},
        # The secret under a misspelt key is still not echoed back.
        {"twilio": {"authTokn": SECRET_TOKEN}, "openai": {"api_kee": SECRET_KEY}},
        # A valid secret next to an invalid neighbour.
        {
            "twilio": {"accountSid": "bad", "authToken": SECRET_TOKEN},
            "openai": {"apiKey": SECRET_KEY, "voice": "nova"},
        },
        # A secret pasted into the wrong (non-secret) field of the same section.
        {"twilio": {"authToken": SECRET_TOKEN, "accountSid": SECRET_KEY}},
    ],
)
def test_secrets_never_in_config_errors(tmp_path: Path, data: dict[str, Any]) -> None:
    message = config_error(tmp_path, data)
    assert SECRET_TOKEN not in message
    assert SECRET_KEY not in message
    assert "invalid configuration" in message


def test_secret_from_env_not_in_errors_when_other_keys_fail(tmp_path: Path) -> None:
    message = config_error(
        tmp_path,
        {"calls": {"maxConcurrent": 0}},
        env={"TWILIO_AUTH_TOKEN": SECRET_TOKEN, "OPENAI_API_KEY": SECRET_KEY},
    )
    assert "calls.maxConcurrent" in message
    assert SECRET_TOKEN not in message
    assert SECRET_KEY not in message


def test_secret_not_in_json_parse_error(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text('{"openai": {"apiKey": "' + SECRET_KEY + '" oops}', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert SECRET_KEY not in str(info.value)


def test_template_business_settings_parse_when_uncommented() -> None:
    # The commented [calls.*] and [limits] examples, uncommented, are valid settings.
    lines = TEMPLATE.splitlines()
    start, stop = lines.index("[calls]"), lines.index("[inbound]")
    uncommented = [
        line[2:] if re.match(r"# (\[|\w+ = )", line) else line for line in lines[start:stop]
    ]
    data = tomllib.loads("\n".join(lines[:start] + uncommented + lines[stop:]))
    calls = Settings.model_validate(data).calls
    assert [t.label for t in calls.transfer.targets] == ["front desk"]
    assert calls.retry.attempts == 3
    assert calls.hours.restricted
    assert calls.blocked_numbers == ["+14155550000"]
    assert Settings.model_validate(data).limits.daily_spend_usd == 20
