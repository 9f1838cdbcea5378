"""The `notify` settings: where a finished call's result is pushed, checked against the
OpenClaw gateway's hook rules at startup rather than as a refused delivery."""

from __future__ import annotations

import ipaddress
import re
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from voicecall_rt.config_section import Section as _Section


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
    if "token" in parse_qs(parts.query, keep_blank_values=True):
        # The OpenClaw gateway answers 400 to any hook request with a `token` query.
        raise ValueError("must not carry a ?token= query; put the secret in notify.token")
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


_HOOK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_HOOK_TARGET = re.compile(r"[^\x00-\x1f\x7f]{1,256}")


def _hook_id(value: str | None, what: str) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if not _HOOK_ID.fullmatch(value):
        raise ValueError(f"must be {what}: letters, digits, '.', '_' or '-' (at most 64)")
    return value


class NotifySettings(_Section):
    """Push a call's result somewhere when it ends; nothing is sent while `url` is unset.

    `channel`, `to`, `accountId` and `agentId` are the OpenClaw gateway's `/hooks/agent`
    routing fields, sent as they are (format "openclaw" only); the gateway's rules for
    them are checked here, so a mistake shows at startup rather than as a refused delivery.
    """

    url: str | None = None
    # validate_default: an unset token is checked against the url.
    token: SecretStr | None = Field(default=None, validate_default=True)
    # openclaw: the gateway's `POST /hooks/agent` (bearer token, a `message` text);
    # generic: our own JSON, signed with HMAC-SHA256 keyed by the token.
    format: Literal["openclaw", "generic"] = "openclaw"
    # The configured agent that reads the result (the gateway's default agent if unset).
    agent_id: str | None = None
    # Where the agent's reply is announced: a concrete channel id and a recipient on it,
    # both or neither (neither: the gateway's default, the agent's main session).
    channel: str | None = None
    # validate_default: both of these are checked against `channel` even when unset.
    to: str | None = Field(default=None, validate_default=True)
    account_id: str | None = Field(default=None, validate_default=True)

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

    @field_validator("agent_id")
    @classmethod
    def _agent_id(cls, value: str | None) -> str | None:
        return _hook_id(value, "an agent id such as 'main'")

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str | None) -> str | None:
        value = _hook_id(value, "a channel id such as 'telegram'")
        if value is not None and value.lower() == "last":
            # Direct /hooks/agent requests may not use "last" (the gateway answers 400).
            raise ValueError(
                "must name a concrete channel such as 'telegram'; the gateway refuses"
                " 'last' for a direct hook (leave notify.channel and notify.to unset to"
                " deliver to the agent's main session)"
            )
        return value.lower() if value is not None else None

    @field_validator("to")
    @classmethod
    def _to(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and not value.strip():
            value = None
        if value is not None and not _HOOK_TARGET.fullmatch(value.strip()):
            raise ValueError("must be a recipient of at most 256 characters on one line")
        channel_key = "channel" in info.data  # absent: `channel` itself was refused
        if value is None and info.data.get("channel"):
            raise ValueError("is required when notify.channel is set (both or neither)")
        if value is not None and channel_key and not info.data.get("channel"):
            raise ValueError("needs notify.channel too (both or neither)")
        return value.strip() if value is not None else None

    @field_validator("account_id")
    @classmethod
    def _account_id(cls, value: str | None, info: ValidationInfo) -> str | None:
        value = _hook_id(value, "a channel account id")
        if value is not None and "to" in info.data and not info.data.get("to"):
            raise ValueError("needs notify.channel and notify.to too")
        return value
