"""Logging for `voicecall-rt serve`: human-readable lines, or one JSON object per line.

Rules the code keeps (and this module backs up):
- never a secret: the settings hold secrets as SecretStr, and the handler installed here
  also redacts, as a last line of defence, the configured secrets (and the local API
  token, once the server knows it), anything shaped like an OpenAI key and the value of a
  Bearer/Basic authorization, wherever they appear: message, arguments, extras, traceback;
- never call content (transcripts, briefs, instructions) unless `debug` is on: the code
  logs such things only at DEBUG, which is shown only in debug mode.

JSON lines carry `time` (UTC, ISO 8601, ms), `level`, `logger`, `message`, then any
extras given with `extra={...}`, and `exc` for a traceback.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import sys
from collections.abc import Iterable
from typing import Any, Literal, TextIO

import orjson

from voicecall_rt.config import Settings

LogFormat = Literal["text", "json"]
REDACTED = "[redacted]"
MIN_SECRET_LENGTH = 8  # shorter values would redact ordinary words
_TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_PATTERNS = (
    re.compile(r"\bsk-[A-Za-z0-9_-]{8,}"),  # OpenAI-style keys
    re.compile(r"(?i)(?<=\bbearer )[^\s\"',;]+"),
    re.compile(r"(?i)(?<=\bbasic )[A-Za-z0-9+/=]{8,}"),
)
# Attributes every LogRecord has: whatever else is on a record came from `extra=`.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}
# Third-party loggers that are chatty (or log request details) below WARNING.
# picows logs every model connection and disconnection at INFO (and, below DEBUG, its
# upgrade request with the API key, which the redactor would blank anyway).
_NOISY = ("twilio", "aiohttp.access", "httpx2", "httpx", "httpcore", "picows")


class SecretFilter(logging.Filter):
    """Redacts secrets from a record in place, before any formatter sees it."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets: list[str] = []
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        for secret in secrets:
            if len(secret) >= MIN_SECRET_LENGTH and secret not in self._secrets:
                self._secrets.append(secret)
        self._secrets.sort(key=len, reverse=True)  # a longer secret may contain a shorter

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        for pattern in _PATTERNS:
            text = pattern.sub(REDACTED, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD:
                record.__dict__[key] = self._scrub(value)
        return True

    def _scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {k: self._scrub(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._scrub(v) for v in value]
        return value


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in entry:
                entry[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return orjson.dumps(entry, default=str).decode()


_installed: tuple[logging.Handler, SecretFilter] | None = None


def settings_secrets(settings: Settings) -> list[str]:
    """The secrets a configuration holds (each a string to keep out of the logs)."""
    return settings.secret_values()


def add_secrets(*secrets: str) -> None:
    """Redact these too from now on (the local API token, once it is known)."""
    if _installed is not None:
        _installed[1].add(secrets)


def setup_logging(
    debug: bool,
    log_format: LogFormat = "text",
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> logging.Handler:
    """Log to stderr (or `stream`) in `log_format`; replaces what an earlier call set up."""
    global _installed
    root = logging.getLogger()
    if _installed is not None:
        root.removeHandler(_installed[0])
    handler = logging.StreamHandler(sys.stderr if stream is None else stream)
    redactor = SecretFilter(secrets)
    handler.addFilter(redactor)
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(_TEXT_FORMAT)
    )
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    _installed = (handler, redactor)
    # Third-party clients log request details at INFO; keep them quiet unless debugging.
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(logging.DEBUG if debug else logging.WARNING)
    # aiosqlite logs every statement with its parameters (transcript text) at DEBUG.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
    return handler
