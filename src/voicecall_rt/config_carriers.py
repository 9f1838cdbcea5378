"""Each carrier's settings section (`carrier` in the config names the one in use).

A section knows which of its keys a real call needs (`missing`); secrets are `SecretStr`,
so they print masked and `Settings.secret_values` finds them for log redaction.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Literal, Protocol

from pydantic import Field, SecretStr, field_validator

from voicecall_rt.config_section import Section

CarrierName = Literal["twilio", "telnyx", "plivo", "signalwire"]
# How each is written for people.
CARRIER_NAMES: dict[CarrierName, str] = {
    "twilio": "Twilio",
    "telnyx": "Telnyx",
    "plivo": "Plivo",
    "signalwire": "SignalWire",
}


class CarrierSection(Protocol):
    def missing(self) -> list[str]:
        """This section's keys (camelCase) a real call needs and that are not set."""
        ...


def _unset(value: SecretStr | str | None) -> bool:
    if isinstance(value, SecretStr):
        return not value.get_secret_value()
    return not value


def _missing(**keys: SecretStr | str | None) -> list[str]:
    return [key for key, value in keys.items() if _unset(value)]


class TwilioSettings(Section):
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

    def missing(self) -> list[str]:
        return _missing(accountSid=self.account_sid, authToken=self.auth_token)


class TelnyxSettings(Section):
    api_key: SecretStr | None = None
    # The Call Control (Voice API) application calls are placed on; its webhook URL is
    # <publicUrl>/voice/answer.
    connection_id: str | None = Field(default=None, max_length=64)
    # The account's Ed25519 public key (Mission Control → Keys & Credentials → Public Key),
    # base64: webhooks are verified with it.
    public_key: str | None = None
    api_base_url: str = "https://api.telnyx.com/v2"

    @field_validator("public_key")
    @classmethod
    def _key_shape(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != 32:
            raise ValueError("must be the base64 of a 32-byte Ed25519 public key")
        return value

    def missing(self) -> list[str]:
        return _missing(
            apiKey=self.api_key, connectionId=self.connection_id, publicKey=self.public_key
        )


class PlivoSettings(Section):
    auth_id: str | None = None
    auth_token: SecretStr | None = None
    api_base_url: str = "https://api.plivo.com"

    @field_validator("auth_id")
    @classmethod
    def _id_shape(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[MS]A[A-Z0-9]{18}", value):
            raise ValueError("must be 'MA' or 'SA' followed by 18 capitals or digits")
        return value

    def missing(self) -> list[str]:
        return _missing(authId=self.auth_id, authToken=self.auth_token)


class SignalWireSettings(Section):
    project_id: str | None = None
    api_token: SecretStr | None = None
    # The project's Signing Key (API → Signing Key): webhooks are signed with it, not with
    # the API token.
    signing_key: SecretStr | None = None
    # The Space's host, e.g. "example.signalwire.com".
    space_url: str | None = None
    # Where the REST API is; by default https://<spaceUrl>.
    api_base_url: str | None = None

    @field_validator("project_id")
    @classmethod
    def _project_shape(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(
            r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", value
        ):
            raise ValueError("must be the project's UUID (8-4-4-4-12 lowercase hex)")
        return value

    @field_validator("space_url")
    @classmethod
    def _space_shape(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(
            r"[a-z0-9][a-z0-9-]{0,62}\.signalwire\.com", value
        ):
            raise ValueError("must be your Space's host, like 'example.signalwire.com'")
        return value

    @property
    def base_url(self) -> str | None:
        """The REST API's origin, or None while neither it nor the Space is set."""
        if self.api_base_url:
            return self.api_base_url.rstrip("/")
        return f"https://{self.space_url}" if self.space_url else None

    def missing(self) -> list[str]:
        return _missing(
            projectId=self.project_id,
            apiToken=self.api_token,
            signingKey=self.signing_key,
            spaceUrl=self.space_url or self.api_base_url,
        )
