"""Settings: the model, where it is loaded from, and validation that names the key.

Sources, later wins: a config file (`--config`, else `VOICECALL_RT_CONFIG`, else the
default locations), then the conventional environment variables. A config file is our
own TOML/JSON, or an `openclaw.json` whose plugin entry holds our section. Nothing is
read at import time.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic.alias_generators import to_camel

from voicecall_rt.phone import normalize_e164
from voicecall_rt.pricing import DEFAULT_CARRIER_PER_MINUTE, price_problem
from voicecall_rt.public_url import validate_public_url

PLUGIN_ID = "openclaw-voice-gpt-realtime"
CONFIG_ENV = "VOICECALL_RT_CONFIG"
DEFAULT_DATA_DIR = Path("~/.openclaw/voice-calls-realtime")
# Every voice the GA Realtime API offers by name; custom voices are `{"id": "voice_…"}`.
Voice = Literal[
    "alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar"
]
E164 = Annotated[str, AfterValidator(normalize_e164)]


class ConfigError(Exception):
    """The configuration cannot be used; `str()` names each bad key and what is allowed."""


class _Section(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class TwilioSettings(_Section):
    account_sid: str | None = None
    auth_token: SecretStr | None = None
    # Twilio's Webhook Settings may sign webhooks with a SharedKey (HMAC-SHA256, announced by
    # `X-Twilio-Webhooks-Signature-Settings`) instead of the Auth Token: its secret(s) here.
    # More than one while a key is being rotated.
    webhook_shared_keys: list[SecretStr] = Field(default_factory=list, max_length=8)
    api_base_url: str = "https://api.twilio.com"

    @field_validator("account_sid")
    @classmethod
    def _sid_shape(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"AC[0-9a-f]{32}", value):
            raise ValueError("must be 'AC' followed by 32 lowercase hex characters")
        return value


# `reasoning.effort` of the reasoning Realtime models (openai: RealtimeReasoningEffort).
ReasoningEffort = Literal["minimal", "low", "medium", "high", "xhigh"]


def _model_name(value: str) -> str:
    # The name goes into a URL query and a price table key: a name's shape, nothing more.
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}", value):
        raise ValueError("must be a model name such as 'gpt-realtime-2.1'")
    return value


ModelName = Annotated[str, AfterValidator(_model_name)]


class OpenAISettings(_Section):
    api_key: SecretStr | None = None
    # gpt-realtime shuts down on 2027-01-20 (see model/catalog.py); this is its successor.
    model: ModelName = "gpt-realtime-2.1"
    # Every reasoning step is time the caller waits in silence: "low" keeps turns quick
    # while still reasoning over tool use (sent only to models that reason).
    reasoning_effort: ReasoningEffort = "low"
    voice: Voice = "coral"
    realtime_url: str = "wss://api.openai.com/v1/realtime"
    # Transcribes the caller's turns for the transcript; gpt-4o-mini-transcribe (the old
    # fixed choice) shuts down on 2027-02-26, gpt-transcribe has no announced date.
    transcription_model: ModelName = "gpt-transcribe"
    # ISO-639-1 ("en"): the callee's language, when known, helps accuracy and latency.
    transcription_language: str | None = None

    @field_validator("transcription_language", mode="before")
    @classmethod
    def _iso_639_1(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip().lower() or None
            if value is not None and not re.fullmatch(r"[a-z]{2}", value):
                raise ValueError("must be a two-letter ISO-639-1 language code such as 'en'")
        return value

    @field_validator("realtime_url")
    @classmethod
    def _ws_scheme(cls, value: str) -> str:
        if not value.startswith(("wss://", "ws://")):
            raise ValueError("must be a ws:// or wss:// URL")
        return value.rstrip("/")

    @property
    def rest_base_url(self) -> str:
        """The REST base the realtime URL lives under (`wss://h/v1/realtime` → `https://h/v1`)."""
        base = self.realtime_url.removesuffix("/realtime")
        return "https://" + base[6:] if base.startswith("wss://") else "http://" + base[5:]


class VadSettings(_Section):
    type: Literal["semantic_vad", "server_vad"] = "semantic_vad"
    eagerness: Literal["low", "medium", "high", "auto"] = "medium"


class ServerSettings(_Section):
    port: int = Field(default=3335, ge=0, le=65535)
    bind: str = "127.0.0.1"


class VoicemailSettings(_Section):
    # leave-message: the model leaves a short message after the beep, then hangs up.
    policy: Literal["leave-message", "hangup"] = "leave-message"
    # Fixed words to leave; when unset the model composes a short message from the brief.
    message: str | None = Field(default=None, max_length=1000)


class CallsSettings(_Section):
    max_duration_seconds: int = Field(default=600, ge=1, le=14400)
    timeout_seconds: int = Field(default=30, ge=5, le=600)
    enable_amd: bool = True
    max_concurrent: int = Field(default=5, ge=1, le=10000)
    # No inbound media for this long means the carrier side is gone (zombie watchdog).
    media_timeout_seconds: float = Field(default=30, gt=0, le=600)
    # Outbound listens first; if nobody speaks this long, the model says "Hello?" once.
    silence_nudge_seconds: float = Field(default=5, gt=0, le=120)
    # ...and if the line stays silent this long, the call ends as `no-response`.
    silence_hangup_seconds: float = Field(default=30, gt=0, le=600)
    dtmf_tone_ms: int = Field(default=100, ge=40, le=500)
    dtmf_gap_ms: int = Field(default=80, ge=40, le=500)
    voicemail: VoicemailSettings = Field(default_factory=VoicemailSettings)


class InboundSettings(_Section):
    enabled: bool = False
    policy: Literal["disabled", "open", "allowlist"] = "disabled"
    allow_from: list[E164] = Field(default_factory=list)
    greeting: str = Field(default="Hey! What's up?", max_length=500)
    system_prompt: str | None = None


def validate_notify_url(raw: str) -> str:
    """An https URL, or http only to this machine's loopback (results carry call content)."""
    text = raw.strip()
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise ValueError("must not contain spaces or control characters")
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("must be an https:// URL (http:// only to a loopback address)")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry credentials; put the secret in notify.token")
    if parts.fragment:
        raise ValueError("must not have a #fragment")
    try:
        parts.port  # noqa: B018 - parsing it is the check
    except ValueError:
        raise ValueError("has an invalid port") from None
    if scheme == "http":
        host = parts.hostname
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise ValueError(
                "http:// is only allowed to a loopback address (127.0.0.1, ::1, localhost);"
                " use https:// for anything else"
            )
    return text


class NotifySettings(_Section):
    """Push a call's result somewhere when it ends; nothing is sent while `url` is unset."""

    url: str | None = None
    # validate_default: an unset token is checked against the url.
    token: SecretStr | None = Field(default=None, validate_default=True)
    # openclaw: the gateway's `POST /hooks/agent` (bearer token, a `message` text);
    # generic: our own JSON, signed with HMAC-SHA256 keyed by the token.
    format: Literal["openclaw", "generic"] = "openclaw"

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return validate_notify_url(value)

    @field_validator("token")
    @classmethod
    def _token(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            value = None
        if value is None and info.data.get("url"):
            raise ValueError("is required when notify.url is set")
        return value


class ModelPriceSettings(_Section):
    """USD per million tokens, or per minute of audio (`perMinute`: transcription models
    billed by duration); a key left out keeps the model's list price."""

    text_in: float | None = Field(default=None, ge=0, le=10_000)
    cached_text_in: float | None = Field(default=None, ge=0, le=10_000)
    text_out: float | None = Field(default=None, ge=0, le=10_000)
    audio_in: float | None = Field(default=None, ge=0, le=10_000)
    cached_audio_in: float | None = Field(default=None, ge=0, le=10_000)
    audio_out: float | None = Field(default=None, ge=0, le=10_000)
    per_minute: float | None = Field(default=None, ge=0, le=100)


class PricingSettings(_Section):
    """What calls cost (see pricing.py): prices per model (Realtime and transcription),
    carrier minutes."""

    carrier_per_minute: float = Field(default=DEFAULT_CARRIER_PER_MINUTE, ge=0, le=100)
    models: dict[str, ModelPriceSettings] = Field(default_factory=dict)

    @field_validator("models")
    @classmethod
    def _known_or_complete(
        cls, value: dict[str, ModelPriceSettings]
    ) -> dict[str, ModelPriceSettings]:
        problems = []
        for name, price in value.items():
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}", name):
                problems.append(f"{name[:40]!r} is not a model name")
            elif problem := price_problem(name, set(price.model_dump(exclude_none=True))):
                problems.append(problem)
        if problems:
            raise ValueError("; ".join(problems))
        return value


class Settings(_Section):
    twilio: TwilioSettings = Field(default_factory=TwilioSettings)
    from_number: E164 | None = None
    openai: OpenAISettings = Field(default_factory=OpenAISettings)
    vad: VadSettings = Field(default_factory=VadSettings)
    public_url: Annotated[str, AfterValidator(validate_public_url)] | None = None
    server: ServerSettings = Field(default_factory=ServerSettings)
    calls: CallsSettings = Field(default_factory=CallsSettings)
    inbound: InboundSettings = Field(default_factory=InboundSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    pricing: PricingSettings = Field(default_factory=PricingSettings)
    debug: bool = False
    # validate_default: the default too goes through `_expand` (no literal "~" directory).
    data_dir: Path = Field(default=DEFAULT_DATA_DIR, validate_default=True)

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @property
    def local_url(self) -> str:
        """Where this machine reaches the server (a wildcard bind is reached on loopback)."""
        host = self.server.bind
        if host in ("0.0.0.0", "::", ""):  # noqa: S104 - naming our own wildcard listener
            host = "127.0.0.1"
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.server.port}"

    def missing_for_calls(self) -> list[str]:
        """Keys that must be set before a real call can be placed or received."""
        missing = []
        if not self.twilio.account_sid:
            missing.append("twilio.accountSid")
        if self.twilio.auth_token is None or not self.twilio.auth_token.get_secret_value():
            missing.append("twilio.authToken")
        if not self.from_number:
            missing.append("fromNumber")
        if self.openai.api_key is None or not self.openai.api_key.get_secret_value():
            missing.append("openai.apiKey")
        if not self.public_url:
            missing.append("publicUrl")
        return missing

    def require_for_calls(self) -> None:
        missing = self.missing_for_calls()
        if missing:
            raise ConfigError("missing required setting(s): " + ", ".join(missing))


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


ENV_KEYS = {
    "TWILIO_ACCOUNT_SID": "twilio.accountSid",
    "TWILIO_AUTH_TOKEN": "twilio.authToken",
    "OPENAI_API_KEY": "openai.apiKey",
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


TEMPLATE = """\
# voicecall-rt configuration (TOML). Keys not set here keep their defaults.
# Secrets may instead come from TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and OPENAI_API_KEY.

# The Twilio number calls are placed from, in E.164 form.
fromNumber = "+15555550100"
# The public https origin your tunnel serves (no path); Twilio calls <publicUrl>/voice/*.
publicUrl = "https://voice.example.com"
# Keep the server on loopback and expose only /voice/* through the tunnel.
debug = false
# dataDir = "~/.openclaw/voice-calls-realtime"

[twilio]
accountSid = "AC00000000000000000000000000000000"
authToken = "replace-me"
# Only if your account signs webhooks with a SharedKey (Twilio's Webhook Settings):
# webhookSharedKeys = ["replace-me"]

[openai]
apiKey = "sk-replace-me"
# A reasoning model; "gpt-realtime-2.1-mini" costs about a third as much for audio.
model = "gpt-realtime-2.1"
# minimal, low, medium, high, xhigh: more reasoning, longer silences before each answer
reasoningEffort = "low"
# alloy ash ballad coral echo sage shimmer verse marin cedar
voice = "coral"
# Transcribes what the other side says, for the transcript.
transcriptionModel = "gpt-transcribe"
# transcriptionLanguage = "en"   # ISO-639-1, when you know the language of your calls

[vad]
type = "semantic_vad"   # or "server_vad"
eagerness = "medium"    # low, medium, high, auto

[server]
port = 3335
bind = "127.0.0.1"

[calls]
maxDurationSeconds = 600
timeoutSeconds = 30
enableAmd = true
maxConcurrent = 5
silenceNudgeSeconds = 5     # outbound: say "Hello?" once if the line stays quiet this long
silenceHangupSeconds = 30   # ...and hang up (no-response) if it stays quiet this long
dtmfToneMs = 100            # keypad tone length
dtmfGapMs = 80              # silence between keypad tones
mediaTimeoutSeconds = 30    # a stream that sends no audio this long is treated as gone

[calls.voicemail]
policy = "leave-message"    # or "hangup"
# message = "Hi, this is an AI assistant calling for Alex about a reservation. Please call back."

[inbound]
enabled = false
policy = "disabled"     # disabled, open, allowlist
allowFrom = []          # ["+14155551234"]
greeting = "Hey! What's up?"
# systemPrompt = "You answer calls for ..."

[notify]
# When a call ends, POST its result here: https, or http only to this machine.
# url = "http://127.0.0.1:18789/hooks/agent"   # an OpenClaw gateway's agent hook
# token = "replace-me"  # the gateway's hooks.token, or the signing secret for "generic"
format = "openclaw"     # or "generic": our own JSON, signed with HMAC-SHA256

[pricing]
# Call costs are estimates from OpenAI's and Twilio's list prices: check them and override.
carrierPerMinute = 0.014    # USD per started minute of an answered call
# [pricing.models."gpt-realtime-2.1"]   # USD per 1M tokens; keys left out keep the list price
# textIn = 4.0
# cachedTextIn = 0.4
# textOut = 24.0
# audioIn = 32.0
# cachedAudioIn = 0.4
# audioOut = 64.0
# [pricing.models.gpt-transcribe]       # a transcription model: USD per minute of audio
# perMinute = 0.0045                    # (or audioIn, textIn, textOut per 1M tokens)
"""
