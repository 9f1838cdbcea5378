"""`carrier` picks one of four carriers, each with its own section: what a call needs is
named by key, bad values are named by key, secrets never print, and `init`'s template
carries a commented section for each that validates once filled in."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from voicecall_rt.config import ConfigError, Settings
from voicecall_rt.config_file import ENV_KEYS, load_settings
from voicecall_rt.config_template import TEMPLATE
from voicecall_rt.logs import settings_secrets

FILLED: dict[str, dict[str, Any]] = {
    "twilio": {"accountSid": "AC" + "0" * 32, "authToken": "tw-secret-1"},
    "telnyx": {
        "apiKey": "KEYtx-secret-2",
        "connectionId": "1494404757140276705",
        "publicKey": "9KjvbA7I0hJr8fSHbqmfg7D1fzEq5hYwYQ0yq4b9Y6c=",
    },
    "plivo": {"authId": "MAXXXXXXXXXXXXXXXXXX", "authToken": "pl-secret-3"},
    "signalwire": {
        "projectId": "0c3e4fc5-5a3f-4b7a-9d0e-2f4d8f3c1a2b",
        "apiToken": "PTsw-secret-4",
        "signingKey": "PSKsw-secret-5",
        "spaceUrl": "example.signalwire.com",
    },
}
SECRETS = ("tw-secret-1", "KEYtx-secret-2", "pl-secret-3", "PTsw-secret-4", "PSKsw-secret-5")


def _common() -> dict[str, Any]:
    return {
        "fromNumber": "+15555550100",
        "openai": {"apiKey": "sk-x"},
        "publicUrl": "https://voice.example.com",
    }


def test_a_carrier_needs_its_own_keys_and_names_them(carrier: str) -> None:
    # `carrier`: each carrier in turn (tests/conftest.py)
    bare = Settings.model_validate({**_common(), "carrier": carrier})
    assert bare.missing_for_calls() == [f"{carrier}.{key}" for key in FILLED[carrier]]
    filled = Settings.model_validate({**_common(), "carrier": carrier, carrier: FILLED[carrier]})
    assert filled.missing_for_calls() == []
    assert filled.carrier_section is getattr(filled, carrier)


def test_an_unknown_carrier_is_refused_by_key(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"carrier": "vonage"}')
    with pytest.raises(ConfigError, match=r"carrier.*twilio.*telnyx.*plivo.*signalwire"):
        load_settings(path, env={})


@pytest.mark.parametrize(
    ("section", "value", "key"),
    [
        ("telnyx", {"publicKey": "not-a-key"}, r"telnyx\.publicKey"),
        ("plivo", {"authId": "nope"}, r"plivo\.authId"),
        ("signalwire", {"projectId": "nope"}, r"signalwire\.projectId"),
        ("signalwire", {"spaceUrl": "evil.example.com"}, r"signalwire\.spaceUrl"),
        ("telnyx", {"apiKeyy": "x"}, r"telnyx\.apiKeyy"),
    ],
)
def test_bad_values_are_named_by_key(
    tmp_path: Path, section: str, value: dict[str, str], key: str
) -> None:
    path = tmp_path / "config.toml"
    body = "\n".join(f'{k} = "{v}"' for k, v in value.items())
    path.write_text(f"[{section}]\n{body}\n")
    with pytest.raises(ConfigError, match=key):
        load_settings(path, env={})


def test_every_carriers_secrets_are_masked_and_redacted() -> None:
    data = {**_common(), **FILLED}
    settings = Settings.model_validate(data)
    shown = repr(settings) + str(settings.model_dump())
    for secret in SECRETS:
        assert secret not in shown
    assert set(SECRETS) <= set(settings_secrets(settings))


def test_each_carriers_credentials_may_come_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("")
    env = {name: f"env-{name.lower()}" for name in ENV_KEYS}
    env["PLIVO_AUTH_ID"] = "SAYYYYYYYYYYYYYYYYYY"
    env["SIGNALWIRE_PROJECT_ID"] = FILLED["signalwire"]["projectId"]
    env["TWILIO_ACCOUNT_SID"] = "AC" + "1" * 32
    env["VOICECALL_RT_DATABASE_URL"] = "postgresql://vc:pw@db.internal/calls"
    loaded = load_settings(path, env=env)
    assert loaded.telnyx.api_key is not None
    assert loaded.telnyx.api_key.get_secret_value() == "env-telnyx_api_key"
    assert loaded.plivo.auth_id == "SAYYYYYYYYYYYYYYYYYY"
    assert loaded.signalwire.signing_key is not None
    assert loaded.signalwire.signing_key.get_secret_value() == "env-signalwire_signing_key"
    assert loaded.store.url is not None
    assert loaded.store.url.get_secret_value() == "postgresql://vc:pw@db.internal/calls"


def test_the_template_has_a_section_for_each_carrier_that_validates_filled_in() -> None:
    for carrier in FILLED:
        assert f"[{carrier}]" in TEMPLATE
    lines = TEMPLATE.splitlines()
    # Uncomment the carrier sections and their keys (not the comments about them).
    start = lines.index("# [telnyx]")
    end = lines.index("[openai]")
    uncommented = [
        re.sub(r"\s+#.*$", "", line[2:]) if re.match(r"# (\[|\w+ = )", line) else line
        for line in lines[start:end]
    ]
    text = "\n".join(lines[:start] + uncommented + lines[end:])
    for carrier in FILLED:
        data = tomllib.loads(text.replace('carrier = "twilio"', f'carrier = "{carrier}"'))
        settings = Settings.model_validate(data)
        assert settings.carrier == carrier
        assert settings.missing_for_calls() == []
