"""Configuration: every key and default, the sources and their order, errors, secrets."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from voicecall_rt import config, config_file
from voicecall_rt.config import ConfigError, Settings
from voicecall_rt.config_file import CONFIG_ENV, PLUGIN_ID, load_settings
from voicecall_rt.config_template import TEMPLATE

GOOD_SID = "AC" + "0123456789abcdef" * 2
OTHER_SID = "AC" + "fedcba9876543210" * 2
# Captured before the autouse fixture replaces it, to check the real locations under $HOME.
REAL_DEFAULT_CONFIG_PATHS = config_file.default_config_paths
GA_VOICES = [
    "alloy",
    "ash",
    "ballad",
    "coral",
    "echo",
    "sage",
    "shimmer",
    "verse",
    "marin",
    "cedar",
]


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Never read or write the real home directory; no default config file exists."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for variable in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "OPENAI_API_KEY", CONFIG_ENV):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(
        config_file,
        "default_config_paths",
        lambda: [home / "none" / "config.toml", home / "none" / "openclaw.json"],
    )
    return home


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def load_dict(tmp_path: Path, data: dict[str, Any], env: dict[str, str] | None = None) -> Settings:
    return load_settings(write_json(tmp_path / "config.json", data), env=env or {})


def config_error(tmp_path: Path, data: dict[str, Any], env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_dict(tmp_path, data, env)
    return str(info.value)


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


def test_every_key_set_by_camel_case_name(tmp_path: Path) -> None:
    s = load_dict(
        tmp_path,
        {
            "twilio": {
                "accountSid": GOOD_SID,
                "authToken": "tw-token",
                "apiBaseUrl": "http://127.0.0.1:9999",
            },
            "fromNumber": "+1 415 555 0100",
            "openai": {
                "apiKey": "sk-test",
                "model": "gpt-realtime-mini",
                "reasoningEffort": "minimal",
                "voice": "marin",
                "realtimeUrl": "ws://127.0.0.1:8765/v1/realtime/",
                "transcriptionModel": "gpt-4o-transcribe",
                "transcriptionLanguage": "de",
            },
            "vad": {"type": "server_vad", "eagerness": "high"},
            "publicUrl": "https://voice.example.com/",
            "server": {"port": 8080, "bind": "0.0.0.0"},
            "calls": {
                "maxDurationSeconds": 120,
                "timeoutSeconds": 20,
                "enableAmd": False,
                "maxConcurrent": 10000,
            },
            "inbound": {
                "enabled": True,
                "policy": "allowlist",
                "allowFrom": ["+44 20 7946 0000", "0033 1 23 45 67 89"],
                "greeting": "Hello there",
                "systemPrompt": "You answer for Ada.",
            },
            "debug": True,
            "dataDir": str(tmp_path / "data"),
        },
    )
    assert s.twilio.account_sid == GOOD_SID
    assert s.twilio.auth_token is not None
    assert s.twilio.auth_token.get_secret_value() == "tw-token"
    assert s.twilio.api_base_url == "http://127.0.0.1:9999"
    assert s.from_number == "+14155550100"
    assert s.openai.api_key is not None
    assert s.openai.api_key.get_secret_value() == "sk-test"
    assert s.openai.model == "gpt-realtime-mini"
    assert s.openai.reasoning_effort == "minimal"
    assert s.openai.transcription_model == "gpt-4o-transcribe"
    assert s.openai.transcription_language == "de"
    assert s.openai.voice == "marin"
    assert s.openai.realtime_url == "ws://127.0.0.1:8765/v1/realtime"
    assert (s.vad.type, s.vad.eagerness) == ("server_vad", "high")
    assert s.public_url == "https://voice.example.com"
    assert (s.server.port, s.server.bind) == (8080, "0.0.0.0")
    assert s.calls.max_duration_seconds == 120
    assert s.calls.timeout_seconds == 20
    assert s.calls.enable_amd is False
    assert s.calls.max_concurrent == 10000
    assert s.inbound.enabled is True
    assert s.inbound.policy == "allowlist"
    assert s.inbound.allow_from == ["+442079460000", "+33123456789"]
    assert s.inbound.greeting == "Hello there"
    assert s.inbound.system_prompt == "You answer for Ada."
    assert s.debug is True
    assert s.data_dir == tmp_path / "data"


def test_data_dir_tilde_expands_to_home(tmp_path: Path, isolated_home: Path) -> None:
    s = load_dict(tmp_path, {"dataDir": "~/calls"})
    assert s.data_dir == isolated_home / "calls"


@pytest.mark.parametrize("voice", GA_VOICES)
def test_every_ga_voice_accepted(tmp_path: Path, voice: str) -> None:
    assert load_dict(tmp_path, {"openai": {"voice": voice}}).openai.voice == voice


@pytest.mark.parametrize("voice", ["nova", "onyx", "fable", "Coral", "", "marin "])
def test_other_voices_rejected_listing_the_allowed_ones(tmp_path: Path, voice: str) -> None:
    message = config_error(tmp_path, {"openai": {"voice": voice}})
    assert "openai.voice" in message
    for allowed in ("marin", "cedar", "coral", "alloy"):
        assert allowed in message


@pytest.mark.parametrize("vad_type", ["semantic_vad", "server_vad"])
def test_vad_types(tmp_path: Path, vad_type: str) -> None:
    assert load_dict(tmp_path, {"vad": {"type": vad_type}}).vad.type == vad_type


@pytest.mark.parametrize("eagerness", ["low", "medium", "high", "auto"])
def test_vad_eagerness_values(tmp_path: Path, eagerness: str) -> None:
    assert load_dict(tmp_path, {"vad": {"eagerness": eagerness}}).vad.eagerness == eagerness


def test_bad_vad_values_name_key_and_allowed(tmp_path: Path) -> None:
    message = config_error(tmp_path, {"vad": {"type": "webrtc_vad", "eagerness": "max"}})
    assert "vad.type" in message
    assert "semantic_vad" in message
    assert "server_vad" in message
    assert "vad.eagerness" in message
    assert "'medium'" in message


@pytest.mark.parametrize("value", [1, 5, 10000])
def test_max_concurrent_in_range(tmp_path: Path, value: int) -> None:
    assert load_dict(tmp_path, {"calls": {"maxConcurrent": value}}).calls.max_concurrent == value


@pytest.mark.parametrize(("value", "bound"), [(0, "1"), (-3, "1"), (10001, "10000")])
def test_max_concurrent_out_of_range(tmp_path: Path, value: int, bound: str) -> None:
    message = config_error(tmp_path, {"calls": {"maxConcurrent": value}})
    assert "calls.maxConcurrent" in message
    assert bound in message


@pytest.mark.parametrize("policy", ["disabled", "open", "allowlist"])
def test_inbound_policies(tmp_path: Path, policy: str) -> None:
    assert load_dict(tmp_path, {"inbound": {"policy": policy}}).inbound.policy == policy


def test_inbound_policy_rejected_names_choices(tmp_path: Path) -> None:
    message = config_error(tmp_path, {"inbound": {"policy": "everyone"}})
    assert "inbound.policy" in message
    for allowed in ("disabled", "open", "allowlist"):
        assert allowed in message


def test_allow_from_normalised_to_e164(tmp_path: Path) -> None:
    s = load_dict(
        tmp_path, {"inbound": {"allowFrom": ["+1 (415) 555-1234", "+1.415.555.9999", "0044207"]}}
    )
    assert s.inbound.allow_from == ["+14155551234", "+14155559999", "+44207"]


def test_allow_from_bad_entry_named_by_index(tmp_path: Path) -> None:
    message = config_error(
        tmp_path, {"inbound": {"allowFrom": ["+14155551234", "call me", "+0123"]}}
    )
    assert "inbound.allowFrom.1" in message
    assert "inbound.allowFrom.2" in message
    assert "inbound.allowFrom.0" not in message
    assert "E.164" in message


def test_allow_from_first_entry_index_zero(tmp_path: Path) -> None:
    message = config_error(tmp_path, {"inbound": {"allowFrom": ["abc"]}})
    assert "inbound.allowFrom.0" in message


def test_from_number_invalid(tmp_path: Path) -> None:
    message = config_error(tmp_path, {"fromNumber": "555-CALL-NOW"})
    assert "fromNumber" in message
    assert "E.164" in message


@pytest.mark.parametrize(
    "sid",
    [
        "AC123",
        "AC" + "0" * 31,
        "AC" + "0" * 33,
        "AC" + "A" * 32,  # upper-case hex is not what Twilio issues
        "XX" + "0" * 32,
        "ac" + "0" * 32,
        "AC" + "g" * 32,
    ],
)
def test_account_sid_shape(tmp_path: Path, sid: str) -> None:
    message = config_error(tmp_path, {"twilio": {"accountSid": sid}})
    assert "twilio.accountSid" in message
    assert "AC" in message
    assert "32" in message


def test_public_url_validated_and_normalised(tmp_path: Path) -> None:
    assert (
        load_dict(tmp_path, {"publicUrl": "https://Voice.Example.com:443/"}).public_url
        == "https://voice.example.com"
    )
    message = config_error(tmp_path, {"publicUrl": "http://voice.example.com"})
    assert "publicUrl" in message
    assert "https" in message
    message = config_error(tmp_path, {"publicUrl": "https://192.168.1.10"})
    assert "publicUrl" in message
    assert "192.168.1.10" in message


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"server": {"port": 70000}}, "server.port"),
        ({"server": {"port": "http"}}, "server.port"),
        ({"calls": {"maxDurationSeconds": 0}}, "calls.maxDurationSeconds"),
        ({"calls": {"timeoutSeconds": 601}}, "calls.timeoutSeconds"),
        ({"calls": {"enableAmd": "perhaps"}}, "calls.enableAmd"),
        ({"inbound": {"enabled": "sometimes"}}, "inbound.enabled"),
        ({"inbound": {"greeting": "x" * 501}}, "inbound.greeting"),
        ({"debug": "loud"}, "debug"),
        ({"openai": {"model": ""}}, "openai.model"),
        ({"openai": {"model": "gpt realtime"}}, "openai.model"),
        ({"openai": {"reasoningEffort": "max"}}, "openai.reasoningEffort"),
        ({"openai": {"transcriptionModel": ""}}, "openai.transcriptionModel"),
        ({"openai": {"transcriptionModel": "x&y=1"}}, "openai.transcriptionModel"),
        ({"openai": {"transcriptionLanguage": "english"}}, "openai.transcriptionLanguage"),
        ({"openai": {"transcriptionLanguage": "en-US"}}, "openai.transcriptionLanguage"),
        ({"openai": {"transcriptionLanguage": 7}}, "openai.transcriptionLanguage"),
        ({"openai": {"realtimeUrl": "https://api.openai.com/v1/realtime"}}, "openai.realtimeUrl"),
    ],
)
def test_invalid_values_name_their_key(tmp_path: Path, data: dict[str, Any], key: str) -> None:
    message = config_error(tmp_path, data)
    assert message.startswith("invalid configuration")
    assert f"{key}:" in message


def test_every_problem_reported_at_once(tmp_path: Path) -> None:
    message = config_error(
        tmp_path,
        {
            "twilio": {"accountSid": "nope"},
            "calls": {"maxConcurrent": 0},
            "openai": {"voice": "nova"},
        },
    )
    for key in ("twilio.accountSid", "calls.maxConcurrent", "openai.voice"):
        assert key in message


def test_unknown_keys_rejected_by_name(tmp_path: Path) -> None:
    message = config_error(
        tmp_path,
        {"bogus": 1, "twilio": {"accountSID": GOOD_SID}, "calls": {"max_concurrentt": 3}},
    )
    assert "bogus: is not a known setting" in message
    assert "twilio.accountSID: is not a known setting" in message
    assert "calls.max_concurrentt: is not a known setting" in message


def test_snake_case_names_also_accepted(tmp_path: Path) -> None:
    s = load_dict(tmp_path, {"calls": {"max_concurrent": 7}, "from_number": "+15555550100"})
    assert s.calls.max_concurrent == 7
    assert s.from_number == "+15555550100"


def test_settings_are_frozen() -> None:
    s = Settings()
    with pytest.raises(ValueError, match="frozen"):
        s.debug = True  # type: ignore[misc]


# --------------------------------------------------------------------------- sources


def test_load_toml(tmp_path: Path) -> None:
    path = tmp_path / "voice.toml"
    path.write_text(
        f"""
fromNumber = "+15555550100"
publicUrl = "https://voice.example.com"
[twilio]
accountSid = "{GOOD_SID}"
authToken = "toml-token"
[calls]
maxConcurrent = 9
[inbound]
allowFrom = ["+1 415 555 1234"]
""",
        encoding="utf-8",
    )
    s = load_settings(path, env={})
    assert s.from_number == "+15555550100"
    assert s.public_url == "https://voice.example.com"
    assert s.twilio.account_sid == GOOD_SID
    assert s.twilio.auth_token is not None
    assert s.twilio.auth_token.get_secret_value() == "toml-token"
    assert s.calls.max_concurrent == 9
    assert s.inbound.allow_from == ["+14155551234"]


def test_load_plain_json(tmp_path: Path) -> None:
    s = load_dict(tmp_path, {"openai": {"voice": "cedar"}, "server": {"port": 4000}})
    assert s.openai.voice == "cedar"
    assert s.server.port == 4000


def test_load_openclaw_plugin_entry(tmp_path: Path) -> None:
    path = write_json(
        tmp_path / "openclaw.json",
        {
            "agents": {"default": {"model": "something"}},
            "plugins": {
                "entries": {
                    "another-plugin": {"config": {"unrelated": True}},
                    PLUGIN_ID: {
                        "enabled": True,
                        "config": {"openai": {"voice": "sage"}, "calls": {"maxConcurrent": 2}},
                    },
                }
            },
        },
    )
    s = load_settings(path, env={})
    assert s.openai.voice == "sage"
    assert s.calls.max_concurrent == 2


def test_openclaw_plugin_entry_without_config_gives_defaults(tmp_path: Path) -> None:
    path = write_json(tmp_path / "openclaw.json", {"plugins": {"entries": {PLUGIN_ID: {}}}})
    assert load_settings(path, env={}).openai.voice == "coral"


def test_openclaw_plugin_entry_errors_use_our_key_names(tmp_path: Path) -> None:
    path = write_json(
        tmp_path / "openclaw.json",
        {"plugins": {"entries": {PLUGIN_ID: {"config": {"calls": {"maxConcurrent": 0}}}}}},
    )
    with pytest.raises(ConfigError, match=r"calls\.maxConcurrent"):
        load_settings(path, env={})


def test_openclaw_json_without_our_entry_is_an_error(tmp_path: Path) -> None:
    path = write_json(tmp_path / "openclaw.json", {"plugins": {"entries": {"other": {}}}})
    with pytest.raises(ConfigError, match=PLUGIN_ID):
        load_settings(path, env={})


@pytest.mark.parametrize(
    "document",
    [
        {"plugins": []},
        {"plugins": {"entries": "none"}},
        {"plugins": {"entries": {PLUGIN_ID: {"config": "voice=coral"}}}},
    ],
)
def test_malformed_openclaw_json_is_a_config_error(tmp_path: Path, document: Any) -> None:
    path = write_json(tmp_path / "openclaw.json", document)
    with pytest.raises(ConfigError):
        load_settings(path, env={})


def test_config_env_variable_names_the_file(tmp_path: Path) -> None:
    path = write_json(tmp_path / "elsewhere.json", {"server": {"port": 4444}})
    assert load_settings(env={CONFIG_ENV: str(path)}).server.port == 4444


def test_explicit_path_wins_over_config_env(tmp_path: Path) -> None:
    chosen = write_json(tmp_path / "chosen.json", {"server": {"port": 1111}})
    other = write_json(tmp_path / "other.json", {"server": {"port": 2222}})
    assert load_settings(chosen, env={CONFIG_ENV: str(other)}).server.port == 1111


def test_default_paths_used_when_nothing_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    toml = tmp_path / "defaults" / "config.toml"
    toml.parent.mkdir()
    toml.write_text("[server]\nport = 5555\n", encoding="utf-8")
    monkeypatch.setattr(config_file, "default_config_paths", lambda: [toml])
    assert load_settings(env={}).server.port == 5555


def test_default_openclaw_json_without_our_entry_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    openclaw = write_json(tmp_path / "openclaw.json", {"plugins": {"entries": {"x": {}}}})
    monkeypatch.setattr(config_file, "default_config_paths", lambda: [openclaw])
    assert load_settings(env={}).server.port == 3335


def test_broken_default_toml_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "config.toml"
    toml.write_text("[server\nport = 1", encoding="utf-8")
    monkeypatch.setattr(config_file, "default_config_paths", lambda: [toml])
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(env={})


def test_default_paths_live_under_home(isolated_home: Path) -> None:
    assert REAL_DEFAULT_CONFIG_PATHS() == [
        isolated_home / ".openclaw" / "voice-calls-realtime" / "config.toml",
        isolated_home / ".openclaw" / "openclaw.json",
    ]


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(tmp_path / "absent.toml", env={})


def test_invalid_json_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_settings(path, env={})


def test_top_level_must_be_an_object(tmp_path: Path) -> None:
    path = write_json(tmp_path / "list.json", [1, 2])
    with pytest.raises(ConfigError, match="object"):
        load_settings(path, env={})


def test_env_vars_override_the_file(tmp_path: Path) -> None:
    path = write_json(
        tmp_path / "c.json",
        {"twilio": {"accountSid": GOOD_SID, "authToken": "file-token"}, "openai": {"apiKey": "f"}},
    )
    s = load_settings(
        path,
        env={
            "TWILIO_ACCOUNT_SID": OTHER_SID,
            "TWILIO_AUTH_TOKEN": "env-token",
            "OPENAI_API_KEY": "sk-env",
        },
    )
    assert s.twilio.account_sid == OTHER_SID
    assert s.twilio.auth_token is not None
    assert s.twilio.auth_token.get_secret_value() == "env-token"
    assert s.openai.api_key is not None
    assert s.openai.api_key.get_secret_value() == "sk-env"


def test_env_vars_fill_in_without_a_file() -> None:
    s = load_settings(
        env={"TWILIO_ACCOUNT_SID": GOOD_SID, "TWILIO_AUTH_TOKEN": "t", "OPENAI_API_KEY": "k"}
    )
    assert s.twilio.account_sid == GOOD_SID
    assert s.twilio.auth_token is not None
    assert s.openai.api_key is not None


def test_empty_env_vars_do_not_override(tmp_path: Path) -> None:
    path = write_json(tmp_path / "c.json", {"twilio": {"authToken": "file-token"}})
    s = load_settings(path, env={"TWILIO_AUTH_TOKEN": ""})
    assert s.twilio.auth_token is not None
    assert s.twilio.auth_token.get_secret_value() == "file-token"


def test_invalid_env_sid_named_as_the_key() -> None:
    with pytest.raises(ConfigError, match=r"twilio\.accountSid"):
        load_settings(env={"TWILIO_ACCOUNT_SID": "not-a-sid"})


def test_explicit_env_mapping_ignores_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-process")
    assert load_settings(env={}).openai.api_key is None


def test_overrides_win_over_file_and_env(tmp_path: Path) -> None:
    path = write_json(tmp_path / "c.json", {"server": {"port": 1000}})
    s = load_settings(path, env={}, overrides={"server.port": 2000, "debug": True})
    assert s.server.port == 2000
    assert s.debug is True


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


# --------------------------------------------------------------------------- helpers


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
    models = Settings.model_validate(data).pricing.models
    assert models["gpt-realtime-2.1"].text_out == 24.0
    assert models["gpt-transcribe"].per_minute == 0.0045


@pytest.mark.parametrize("effort", ["minimal", "low", "medium", "high", "xhigh"])
def test_every_reasoning_effort_the_sdk_knows(tmp_path: Path, effort: str) -> None:
    from typing import get_args

    from openai.types.realtime.realtime_reasoning_effort import RealtimeReasoningEffort

    assert effort in get_args(RealtimeReasoningEffort)
    assert load_dict(tmp_path, {"openai": {"reasoningEffort": effort}}).openai.reasoning_effort == (
        effort
    )
    assert set(get_args(config.ReasoningEffort)) == set(get_args(RealtimeReasoningEffort))


@pytest.mark.parametrize(
    ("given", "stored"), [("en", "en"), (" FR ", "fr"), ("", None), (None, None)]
)
def test_transcription_language_is_iso_639_1(
    tmp_path: Path, given: str | None, stored: str | None
) -> None:
    s = load_dict(tmp_path, {"openai": {"transcriptionLanguage": given}})
    assert s.openai.transcription_language == stored


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


def test_template_mentions_every_ga_voice() -> None:
    for voice in GA_VOICES:
        assert voice in TEMPLATE


@pytest.mark.parametrize(
    ("realtime_url", "rest"),
    [
        ("wss://api.openai.com/v1/realtime", "https://api.openai.com/v1"),
        ("wss://api.openai.com/v1/realtime/", "https://api.openai.com/v1"),
        ("ws://127.0.0.1:8765/v1/realtime", "http://127.0.0.1:8765/v1"),
    ],
)
def test_rest_base_url(tmp_path: Path, realtime_url: str, rest: str) -> None:
    s = load_dict(tmp_path, {"openai": {"realtimeUrl": realtime_url}})
    assert s.openai.rest_base_url == rest


@pytest.mark.parametrize(
    ("bind", "port", "url"),
    [
        ("127.0.0.1", 3335, "http://127.0.0.1:3335"),
        ("0.0.0.0", 8080, "http://127.0.0.1:8080"),
        ("::", 8080, "http://127.0.0.1:8080"),
        ("::1", 9000, "http://[::1]:9000"),
        ("192.0.2.7", 3335, "http://192.0.2.7:3335"),
    ],
)
def test_local_url(tmp_path: Path, bind: str, port: int, url: str) -> None:
    s = load_dict(tmp_path, {"server": {"bind": bind, "port": port}})
    assert s.local_url == url
