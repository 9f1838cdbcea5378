"""Settings: the model, section by section, and validation that names the key.

Where they are loaded from is config_file.py; the template `init` writes is
config_template.py. Nothing is read at import time.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    SecretStr,
    field_validator,
)

from voicecall_rt.config_business import (
    E164,
    HoursSettings,
    LimitsSettings,
    RetrySettings,
    TransferSettings,
)
from voicecall_rt.config_carriers import (
    CarrierName,
    CarrierSection,
    PlivoSettings,
    SignalWireSettings,
    TelnyxSettings,
    TwilioSettings,
)
from voicecall_rt.config_notify import NotifySettings
from voicecall_rt.config_section import Section as _Section
from voicecall_rt.prices import price_problem
from voicecall_rt.public_url import validate_public_url

DEFAULT_DATA_DIR = Path("~/.openclaw/voice-calls-realtime")
# Every voice the GA Realtime API offers by name; custom voices are `{"id": "voice_…"}`.
Voice = Literal[
    "alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar"
]


class ConfigError(Exception):
    """The configuration cannot be used; `str()` names each bad key and what is allowed."""


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
    # On SIGTERM live calls may go on this long; then each is asked to say goodbye and hung
    # up. Capped at the longest call there can be: waiting past that frees nothing.
    drain_timeout_seconds: float = Field(default=300, ge=0, le=14400)
    # Several instances on one PostgreSQL (store.url): this one's name among them (unset: a
    # new one each start), and how long its calls stay its own without a heartbeat — after
    # a crash, within this time another instance settles them and frees their slots.
    instance_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
    lease_seconds: float = Field(default=15, ge=3, le=300)


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
    # What a business sets around its calls (config_business.py, docs/business.md).
    transfer: TransferSettings = Field(default_factory=TransferSettings)
    retry: RetrySettings = Field(default_factory=RetrySettings)
    hours: HoursSettings = Field(default_factory=HoursSettings)
    # Never called, whatever the brief says (beside the numbers that asked not to be).
    blocked_numbers: list[E164] = Field(default_factory=list, max_length=10_000)


class InboundSettings(_Section):
    enabled: bool = False
    policy: Literal["disabled", "open", "allowlist"] = "disabled"
    allow_from: list[E164] = Field(default_factory=list)
    greeting: str = Field(default="Hey! What's up?", max_length=500)
    system_prompt: str | None = None


class StoreSettings(_Section):
    # Unset: SQLite under dataDir, for one machine. A PostgreSQL URL lets several `serve`
    # instances share one database (docs/scaling.md). A secret: it may carry a password.
    url: SecretStr | None = None

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        # The message never repeats the URL: it may hold a password.
        parts = urlsplit(value.get_secret_value())
        if parts.scheme not in ("postgresql", "postgres"):
            raise ValueError("must be a postgresql:// URL (unset it to use SQLite)")
        if not parts.hostname and "host=" not in parts.query:
            raise ValueError("must name the database server's host")
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


CarrierPrice = Annotated[float, Field(ge=0, le=100)]  # USD per started minute


class PricingSettings(_Section):
    """What calls cost (see prices.py): prices per model (Realtime and transcription),
    carrier minutes."""

    # One price for whichever carrier, or a price per carrier; a carrier not given one
    # keeps its built-in list rate (prices.CARRIER_PER_MINUTE).
    carrier_per_minute: CarrierPrice | dict[CarrierName, CarrierPrice] | None = None
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
    # Which carrier places and answers the calls; each has its own section below.
    carrier: CarrierName = "twilio"
    twilio: TwilioSettings = Field(default_factory=TwilioSettings)
    telnyx: TelnyxSettings = Field(default_factory=TelnyxSettings)
    plivo: PlivoSettings = Field(default_factory=PlivoSettings)
    signalwire: SignalWireSettings = Field(default_factory=SignalWireSettings)
    from_number: E164 | None = None
    openai: OpenAISettings = Field(default_factory=OpenAISettings)
    vad: VadSettings = Field(default_factory=VadSettings)
    public_url: Annotated[str, AfterValidator(validate_public_url)] | None = None
    # Several instances behind a load balancer: the number's webhook URL is this shared
    # origin, not any instance's publicUrl; a webhook that came through it is verified
    # against it (the carrier signs the URL it called).
    inbound_url: Annotated[str, AfterValidator(validate_public_url)] | None = None
    server: ServerSettings = Field(default_factory=ServerSettings)
    calls: CallsSettings = Field(default_factory=CallsSettings)
    inbound: InboundSettings = Field(default_factory=InboundSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    pricing: PricingSettings = Field(default_factory=PricingSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
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

    @property
    def carrier_section(self) -> CarrierSection:
        """The chosen carrier's own section."""
        section: CarrierSection = getattr(self, self.carrier)
        return section

    def secret_values(self) -> list[str]:
        """Every secret this configuration holds, whatever its section (for log redaction)."""
        return [v.get_secret_value() for v in _secrets_in(self) if v.get_secret_value()]

    def missing_for_calls(self) -> list[str]:
        """Keys that must be set before a real call can be placed or received."""
        missing = [f"{self.carrier}.{key}" for key in self.carrier_section.missing()]
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


def _secrets_in(model: BaseModel) -> list[SecretStr]:
    found: list[SecretStr] = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        values = value if isinstance(value, list | tuple) else [value]
        for item in values:
            if isinstance(item, SecretStr):
                found.append(item)
            elif isinstance(item, BaseModel):
                found += _secrets_in(item)
    return found
