"""Config files for the configuration tests: written to a temporary folder, then loaded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from voicecall_rt.config import ConfigError, Settings
from voicecall_rt.config_file import load_settings

GOOD_SID = "AC" + "0123456789abcdef" * 2
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


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def load_dict(tmp_path: Path, data: dict[str, Any], env: dict[str, str] | None = None) -> Settings:
    return load_settings(write_json(tmp_path / "config.json", data), env=env or {})


def config_error(tmp_path: Path, data: dict[str, Any], env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_dict(tmp_path, data, env)
    return str(info.value)
