"""Configuration values: every key set by its camelCase (or snake_case) name, the values
each accepts and normalises, and how a bad one is reported (by key, every problem at
once, unknown keys by name); the URLs derived from the settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers.config_files import GA_VOICES, GOOD_SID, config_error, load_dict
from voicecall_rt import config
from voicecall_rt.config import Settings

pytestmark = pytest.mark.usefixtures("isolated_home")  # tests/unit/conftest.py


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


# --------------------------------------------------------------------------- derived


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
