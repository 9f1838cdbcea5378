"""The OpenAI models a call can use: which shut down when, which reason, what replaces them.

One table, read by the bridge (is `reasoning.effort` allowed?), by `serve`, `status` and
the dashboard (warnings before a configured model stops working) and by pricing's tests.

Where the facts come from (check them again when the `openai` package is upgraded:
tests/unit/test_catalog.py compares this table with the installed package's docstrings):

- Shutdown dates: the `openai` package's own docstrings (3.63.0) —
  `types/realtime/realtime_session_create_request.py` (`model`: gpt-realtime and
  gpt-realtime-mini with their snapshots, gpt-audio-mini with its snapshot: 2027-01-20) and
  `types/realtime/audio_transcription.py` (`model`: whisper-1, the gpt-4o transcribe models:
  2027-02-26). Both point to https://developers.openai.com/api/docs/deprecations.
- Successors: gpt-realtime → gpt-realtime-2.1 and gpt-realtime-mini → gpt-realtime-2.1-mini
  as Retell's deprecation notice maps them (docs.retellai.com, deprecation-notice
  2027/01-19); OpenAI's own deprecations row for these was not readable when this was
  written (unconfirmed). For the transcription models, OpenAI's deprecation notice names
  "gpt-live-transcribe or gpt-transcribe"; OpenAI's transcription guide names gpt-transcribe
  for committed turns of a Realtime session over WebSocket, which is how a call transcribes
  the caller.
- Reasoning: OpenAI's model pages call gpt-realtime-2, gpt-realtime-2.1 and
  gpt-realtime-2.1-mini "Reasoning model with tool use" (with reasoning token support);
  gpt-realtime-1.5 is "The best voice model for audio in, audio out", with no reasoning.

A dated snapshot (`…-YYYY-MM-DD`) not in the table is taken as its family: a family's
alias and snapshots are retired together in every deprecation the package lists.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from voicecall_rt.config import Settings

Kind = Literal["realtime", "transcription"]
_DATED_SNAPSHOT = re.compile(r"-\d{4}-\d{2}-\d{2}$")

REALTIME_SHUTDOWN = dt.date(2027, 1, 20)
TRANSCRIPTION_SHUTDOWN = dt.date(2027, 2, 26)
# What we suggest moving to (see the module docstring for how sure each one is).
REALTIME_SUCCESSOR = "gpt-realtime-2.1"
REALTIME_MINI_SUCCESSOR = "gpt-realtime-2.1-mini"
TRANSCRIPTION_SUCCESSOR = "gpt-transcribe"


@dataclass(frozen=True, slots=True)
class ModelInfo:
    kind: Kind
    shutdown: dt.date | None = None  # None: no shutdown announced
    successor: str | None = None
    reasoning: bool = False  # accepts `reasoning.effort` (the others refuse the field)
    # Transcription: takes the caller's language as a `languages` list (the SDK: "Supported
    # by gpt-transcribe and gpt-live-transcribe"); the older models take one `language`.
    languages: bool = False


def _realtime(shutdown: dt.date | None = None, successor: str | None = None) -> ModelInfo:
    return ModelInfo("realtime", shutdown, successor)


_REASONING = ModelInfo("realtime", reasoning=True)
_OLD_REALTIME = _realtime(REALTIME_SHUTDOWN, REALTIME_SUCCESSOR)
_OLD_MINI = _realtime(REALTIME_SHUTDOWN, REALTIME_MINI_SUCCESSOR)
_OLD_TRANSCRIBE = ModelInfo("transcription", TRANSCRIPTION_SHUTDOWN, TRANSCRIPTION_SUCCESSOR)
_TRANSCRIBE = ModelInfo("transcription")
_TRANSCRIBE_LANGUAGES = ModelInfo("transcription", languages=True)

# Every model the installed SDK lists for a Realtime session's `model` and for its input
# transcription's `model`, plus snapshots we know of.
MODELS: Mapping[str, ModelInfo] = {
    "gpt-realtime-2.1": _REASONING,
    "gpt-realtime-2.1-mini": _REASONING,
    "gpt-realtime-2": _REASONING,
    "gpt-realtime-1.5": _realtime(),
    "gpt-realtime": _OLD_REALTIME,
    "gpt-realtime-2025-08-28": _OLD_REALTIME,
    "gpt-realtime-mini": _OLD_MINI,
    "gpt-realtime-mini-2025-10-06": _OLD_MINI,  # not named by the SDK: as its family
    "gpt-realtime-mini-2025-12-15": _OLD_MINI,
    "gpt-audio-1.5": _realtime(),
    "gpt-audio-mini": _OLD_MINI,
    "gpt-audio-mini-2025-10-06": _OLD_MINI,  # not named by the SDK: as its family
    "gpt-audio-mini-2025-12-15": _OLD_MINI,
    # The preview models carry no date in the SDK's realtime types.
    "gpt-4o-realtime-preview": _realtime(),
    "gpt-4o-realtime-preview-2024-10-01": _realtime(),
    "gpt-4o-realtime-preview-2024-12-17": _realtime(),
    "gpt-4o-realtime-preview-2025-06-03": _realtime(),
    "gpt-4o-mini-realtime-preview": _realtime(),
    "gpt-4o-mini-realtime-preview-2024-12-17": _realtime(),
    "gpt-transcribe": _TRANSCRIBE_LANGUAGES,
    "gpt-live-transcribe": _TRANSCRIBE_LANGUAGES,
    "gpt-realtime-whisper": _TRANSCRIBE,
    "whisper-1": _OLD_TRANSCRIBE,
    "gpt-4o-mini-transcribe": _OLD_TRANSCRIBE,
    "gpt-4o-mini-transcribe-2025-12-15": _OLD_TRANSCRIBE,
    "gpt-4o-transcribe": _OLD_TRANSCRIBE,
    "gpt-4o-transcribe-diarize": _OLD_TRANSCRIBE,
}


def family(model: str) -> str:
    """The model a dated snapshot belongs to (`gpt-realtime-2025-08-28` → `gpt-realtime`)."""
    return _DATED_SNAPSHOT.sub("", model)


def lookup(model: str) -> ModelInfo | None:
    """What we know of `model`: its own entry, else its family's; None for a stranger."""
    return MODELS.get(model) or MODELS.get(family(model))


def supports_reasoning(model: str) -> bool:
    """Whether the session may carry `reasoning.effort`. An unknown model is taken not to:
    the non-reasoning models refuse the field, while a reasoning model merely runs at its
    own default effort without it."""
    info = lookup(model)
    return info is not None and info.reasoning


def takes_language_list(model: str) -> bool:
    """Whether a transcription model is told the language as `languages: [code]`."""
    info = lookup(model)
    return info is not None and info.languages


def shutdown_date(model: str) -> dt.date | None:
    """The announced shutdown date of `model`; None when none is announced (or unknown)."""
    info = lookup(model)
    return None if info is None else info.shutdown


def successor(model: str) -> str | None:
    info = lookup(model)
    return None if info is None else info.successor


# ---- warnings for a configuration -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShutdownNotice:
    """A configured model with an announced shutdown date."""

    setting: str  # the config key that names the model, as written in the file
    model: str
    shutdown: dt.date
    successor: str | None
    days_left: int  # ≤ 0: the day has come, calls with this model fail

    @property
    def level(self) -> Literal["warning", "error"]:
        return "error" if self.days_left <= 0 else "warning"

    @property
    def message(self) -> str:
        when = self.shutdown.isoformat()
        if self.days_left < 0:
            fate = f"was shut down by OpenAI on {when}: calls made with it fail"
        elif self.days_left == 0:
            fate = f"shuts down today ({when}): calls made with it fail"
        else:
            days = f"{self.days_left} day{'s' if self.days_left != 1 else ''}"
            fate = f"shuts down on {when} (in {days}): calls made with it will fail from then"
        move = f"; set {self.setting} = {self.successor!r}" if self.successor else ""
        return f"{self.setting} {self.model!r} {fate}{move}"

    def as_json(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "setting": self.setting,
            "model": self.model,
            "shutdown_date": self.shutdown.isoformat(),
            "successor": self.successor,
            "days_left": self.days_left,
            "message": self.message,
        }


def configured_models(settings: Settings) -> list[tuple[str, str]]:
    """(config key, model) of every model a call uses."""
    return [
        ("openai.model", settings.openai.model),
        ("openai.transcriptionModel", settings.openai.transcription_model),
    ]


def shutdown_notices(
    settings: Settings,
    today: dt.date | None = None,
    reported: Mapping[str, dt.date | None] | None = None,
) -> list[ShutdownNotice]:
    """A notice for each configured model with an announced shutdown date, soonest first.

    `reported`: dates OpenAI's `GET /v1/models/{id}` gave (`shutdown_date`); they are the
    live word and win over the table, which was true when this was written."""
    today = today or dt.date.today()
    notices = []
    for setting, model in configured_models(settings):
        date = (reported or {}).get(model) or shutdown_date(model)
        if date is not None:
            notices.append(
                ShutdownNotice(setting, model, date, successor(model), (date - today).days)
            )
    return sorted(notices, key=lambda n: n.shutdown)


def shutdown_warnings(settings: Settings, today: dt.date | None = None) -> list[str]:
    """`shutdown_notices` as lines for people."""
    return [notice.message for notice in shutdown_notices(settings, today)]


def log_shutdown_notices(settings: Settings, today: dt.date | None = None) -> list[ShutdownNotice]:
    """Log each notice (WARNING; ERROR once the day has come) so that a date weeks away is
    seen in the log, not learned from failing calls; `serve` calls this as it starts."""
    log = logging.getLogger("voicecall_rt.models")
    notices = shutdown_notices(settings, today)
    for notice in notices:
        level = logging.ERROR if notice.level == "error" else logging.WARNING
        log.log(level, "%s", notice.message, extra={"model_shutdown": notice.as_json()})
    return notices
