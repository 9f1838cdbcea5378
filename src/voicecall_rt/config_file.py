"""Where settings come from: a config file, the environment, and overrides.

Sources, later wins: a config file (`--config`, else `VOICECALL_RT_CONFIG`, else the
default locations), then the conventional environment variables. A config file is our
own TOML/JSON, or an `openclaw.json` whose plugin entry holds our section. Nothing is
read at import time.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from voicecall_rt.config import DEFAULT_DATA_DIR, ConfigError, Settings

PLUGIN_ID = "openclaw-voice-gpt-realtime"
CONFIG_ENV = "VOICECALL_RT_CONFIG"


def _format_errors(error: ValidationError) -> str:
    lines = []
    for item in error.errors(include_input=False, include_url=False):
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "is not a known setting"
        lines.append(f"{key}: {message}")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    try:
        data: Any = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        kind = "TOML" if path.suffix == ".toml" else "JSON"
        raise ConfigError(f"config file {path} is not valid {kind}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold an object at the top level")
    plugins = data.get("plugins")
    entries = plugins.get("entries") if isinstance(plugins, dict) else None
    entry = entries.get(PLUGIN_ID) if isinstance(entries, dict) else None
    if isinstance(entry, dict):  # an openclaw.json: our section is the plugin entry's config
        section = entry.get("config", {})
        if not isinstance(section, dict):
            raise ConfigError(f"{path}: plugins.entries.{PLUGIN_ID}.config must be an object")
        return section
    if "plugins" in data:
        raise ConfigError(f"{path} is an openclaw.json without a '{PLUGIN_ID}' plugin entry")
    return data


def default_config_paths() -> list[Path]:
    return [
        (DEFAULT_DATA_DIR / "config.toml").expanduser(),
        Path("~/.openclaw/openclaw.json").expanduser(),
    ]


def _set_nested(data: dict[str, Any], dotted: str, value: str) -> None:
    head, _, leaf = dotted.rpartition(".")
    node = data
    for part in head.split(".") if head else []:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{part} must be an object")
        node = child
    node[leaf] = value


# Credentials the environment may hold instead of the config file (each carrier's own,
# and the database's URL).
ENV_KEYS = {
    "TWILIO_ACCOUNT_SID": "twilio.accountSid",
    "TWILIO_AUTH_TOKEN": "twilio.authToken",
    "TELNYX_API_KEY": "telnyx.apiKey",
    "PLIVO_AUTH_ID": "plivo.authId",
    "PLIVO_AUTH_TOKEN": "plivo.authToken",
    "SIGNALWIRE_PROJECT_ID": "signalwire.projectId",
    "SIGNALWIRE_API_TOKEN": "signalwire.apiToken",
    "SIGNALWIRE_SIGNING_KEY": "signalwire.signingKey",
    "OPENAI_API_KEY": "openai.apiKey",
    "VOICECALL_RT_DATABASE_URL": "store.url",
}


def load_settings(
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Load and validate settings; raise ConfigError with every problem named."""
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    if path is None and env.get(CONFIG_ENV):
        path = Path(env[CONFIG_ENV])
    if path is not None:
        data = _read_file(path.expanduser())
    else:
        for candidate in default_config_paths():
            if candidate.is_file():
                try:
                    data = _read_file(candidate)
                except ConfigError:
                    if candidate.suffix == ".json":
                        continue  # an openclaw.json that does not configure us
                    raise
                break
    for variable, dotted in ENV_KEYS.items():
        if env.get(variable):
            _set_nested(data, dotted, env[variable])
    for dotted, value in (overrides or {}).items():
        _set_nested(data, dotted, value)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc)) from None
