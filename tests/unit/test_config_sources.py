"""Configuration sources and their order: TOML, plain JSON and OpenClaw's plugin entry, the
file named by argument, by $VOICECALL_RT_CONFIG or found at the default paths, then the
environment's credentials, then explicit overrides; and a broken source as a ConfigError.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers.config_files import GOOD_SID, load_dict, write_json
from voicecall_rt import config_file
from voicecall_rt.config import ConfigError
from voicecall_rt.config_file import CONFIG_ENV, PLUGIN_ID, load_settings

pytestmark = pytest.mark.usefixtures("isolated_home")  # tests/unit/conftest.py

# Captured before the isolated_home fixture replaces it, to check the real locations under $HOME.
REAL_DEFAULT_CONFIG_PATHS = config_file.default_config_paths


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


# --------------------------------------------------------------------------- environment

OTHER_SID = "AC" + "fedcba9876543210" * 2


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
