"""`[notify]` settings: where results may go, and the OpenClaw gateway's hook rules checked
at load time (a mistake shows at startup, not as a refused delivery after a call)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.helpers.notify_hooks import TOKEN
from voicecall_rt.config import ConfigError, Settings
from voicecall_rt.config_file import load_settings
from voicecall_rt.config_template import TEMPLATE

URL = "https://gateway.example.com/hooks/agent"


def _load(tmp_path: Path, section: dict[str, Any]) -> Settings:
    path = tmp_path / "config.json"
    path.write_text(orjson.dumps({"notify": section}).decode(), encoding="utf-8")
    return load_settings(path, env={})


@pytest.mark.parametrize(
    "url",
    [
        URL,
        "http://127.0.0.1:18789/hooks/agent",
        "http://127.8.9.10/hooks/agent",
        "http://[::1]:18789/hooks/agent",
        "http://localhost:18789/hooks/agent",
        "https://gateway.example.com/hooks/agent?source=voice",
    ],
)
def test_config_accepts_https_and_loopback_http(tmp_path: Path, url: str) -> None:
    settings = _load(tmp_path, {"url": url, "token": TOKEN})
    assert settings.notify.url == url
    assert settings.notify.format == "openclaw"
    assert settings.notify.token is not None
    assert TOKEN not in repr(settings)


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ({"url": "http://gateway.example.com/hooks/agent", "token": TOKEN}, "notify.url: http://"),
        ({"url": "http://10.0.0.5/hooks/agent", "token": TOKEN}, "notify.url: http://"),
        ({"url": "http://127.1/hooks/agent", "token": TOKEN}, "notify.url: http://"),
        ({"url": "ftp://gateway.example.com/x", "token": TOKEN}, "notify.url: must be an https"),
        ({"url": "https:///hooks/agent", "token": TOKEN}, "notify.url: must be an https"),
        ({"url": "https://u:p@gw.example.com/h", "token": TOKEN}, "notify.url: must not carry"),
        ({"url": "https://gw.example.com/h#x", "token": TOKEN}, "notify.url: must not have"),
        ({"url": "https://gw.example.com:99999/h", "token": TOKEN}, "notify.url: has an invalid"),
        ({"url": "https://gw.example.com/a b", "token": TOKEN}, "notify.url: must not contain"),
        # The gateway answers 400 to any hook request with a `token` query.
        ({"url": URL + "?token=abc", "token": TOKEN}, "notify.url: must not carry a ?token="),
        ({"url": URL + "?a=1&token=", "token": TOKEN}, "notify.url: must not carry a ?token="),
        ({"url": URL}, "notify.token: is required"),
        ({"url": URL, "token": " "}, "notify.token: is required"),
        ({"format": "xml"}, "notify.format:"),
        ({"secret": "x"}, "notify.secret: is not a known setting"),
        # channel and to: both or neither; never "last" (the gateway refuses it).
        ({"url": URL, "token": TOKEN, "channel": "telegram"}, "notify.to: is required when"),
        ({"url": URL, "token": TOKEN, "to": "@alex"}, "notify.to: needs notify.channel"),
        (
            {"url": URL, "token": TOKEN, "channel": "last", "to": "@alex"},
            "notify.channel: must name a concrete channel",
        ),
        ({"channel": "LAST", "to": "x"}, "notify.channel: must name a concrete channel"),
        ({"channel": "tele gram", "to": "x"}, "notify.channel: must be a channel id"),
        ({"channel": "telegram", "to": "a\nb"}, "notify.to: must be a recipient"),
        ({"channel": "telegram", "to": "x" * 257}, "notify.to: must be a recipient"),
        ({"accountId": "work"}, "notify.accountId: needs notify.channel and notify.to"),
        ({"agentId": "no/slash"}, "notify.agentId: must be an agent id"),
    ],
)
def test_config_rejects(tmp_path: Path, section: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, section)
    assert expected in str(info.value)
    assert TOKEN not in str(info.value)


def test_the_gateway_routing_fields(tmp_path: Path) -> None:
    section = {
        "url": URL,
        "token": TOKEN,
        "agentId": "ops",
        "channel": " Telegram ",
        "to": " @alex ",
        "accountId": "personal",
    }
    notify = _load(tmp_path, section).notify
    assert (notify.agent_id, notify.channel, notify.to, notify.account_id) == (
        "ops",
        "telegram",
        "@alex",
        "personal",
    )
    empty = _load(tmp_path, {"channel": "", "to": " ", "agentId": ""}).notify
    assert (empty.agent_id, empty.channel, empty.to, empty.account_id) == (None,) * 4


def test_config_defaults_to_off(tmp_path: Path) -> None:
    settings = _load(tmp_path, {})
    assert settings.notify.url is None and settings.notify.token is None
    assert _load(tmp_path, {"url": "", "format": "generic"}).notify.url is None


def test_the_template_names_the_routing_keys() -> None:
    section = TEMPLATE.split("[notify]", 1)[1].split("\n[", 1)[0]
    for key in ("# agentId = ", "# channel = ", "# to = ", "# accountId = "):
        assert key in section
    assert "last" in section  # and says that "last" is refused
