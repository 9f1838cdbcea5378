"""The model catalog: shutdown dates as the installed `openai` package announces them,
reasoning models, snapshots, and the warnings a configuration gets."""

from __future__ import annotations

import datetime as dt
import inspect
import re
from types import ModuleType
from typing import get_args

import pytest
from openai.types.realtime import audio_transcription, realtime_session_create_request

from voicecall_rt.config import Settings
from voicecall_rt.model import catalog


def _sdk_models(model_class: type) -> set[str]:
    annotation = model_class.model_fields["model"].annotation  # type: ignore[attr-defined]
    return {value for arg in get_args(annotation) for value in get_args(arg)}


def _sdk_shutdowns(module: ModuleType) -> dict[str, dt.date]:
    """Every "Deprecated values" bullet of the module's source: model → shutdown date."""
    source = inspect.getsource(module)
    block = source.split("Deprecated values:", 1)[1].split('"""', 1)[0]
    found = {}
    for bullet in re.split(r"\n\s*- ", " " + block):
        match = re.search(r"Announced shutdown\s+date:\s*(\d{4}-\d{2}-\d{2})", bullet)
        if match:
            for name in re.findall(r'"([^"]+)"', bullet.split("Announced")[0]):
                found[name] = dt.date.fromisoformat(match.group(1))
    return found


@pytest.mark.parametrize(
    ("module", "model_class", "kind"),
    [
        (
            realtime_session_create_request,
            realtime_session_create_request.RealtimeSessionCreateRequest,
            "realtime",
        ),
        (audio_transcription, audio_transcription.AudioTranscription, "transcription"),
    ],
)
def test_catalog_matches_the_installed_sdk(
    module: ModuleType, model_class: type, kind: str
) -> None:
    """If the package announces a new shutdown or lists a new model, this fails until the
    catalog learns it."""
    announced = _sdk_shutdowns(module)
    assert announced, "the SDK's docstring format changed: read it again"
    for model, date in announced.items():
        assert catalog.shutdown_date(model) == date, model
    for model in _sdk_models(model_class):
        info = catalog.lookup(model)
        assert info is not None and info.kind == kind, model
        if model not in announced:
            assert info.shutdown is None or model.endswith("2025-10-06"), model


def test_the_dates_issue_9_names() -> None:
    for model in (
        "gpt-realtime",
        "gpt-realtime-2025-08-28",
        "gpt-realtime-mini",
        "gpt-realtime-mini-2025-12-15",
        "gpt-audio-mini",
        "gpt-audio-mini-2025-12-15",
    ):
        assert catalog.shutdown_date(model) == dt.date(2027, 1, 20), model
    for model in (
        "whisper-1",
        "gpt-4o-mini-transcribe",
        "gpt-4o-mini-transcribe-2025-12-15",
        "gpt-4o-transcribe",
        "gpt-4o-transcribe-diarize",
    ):
        assert catalog.shutdown_date(model) == dt.date(2027, 2, 26), model
    for model in ("gpt-realtime-2.1", "gpt-realtime-2.1-mini", "gpt-transcribe", "my-own"):
        assert catalog.shutdown_date(model) is None, model


def test_reasoning_models() -> None:
    for model in ("gpt-realtime-2", "gpt-realtime-2.1", "gpt-realtime-2.1-mini"):
        assert catalog.supports_reasoning(model), model
    for model in ("gpt-realtime", "gpt-realtime-1.5", "gpt-realtime-mini", "unknown-model", ""):
        assert not catalog.supports_reasoning(model), model


def test_dated_snapshots_belong_to_their_family() -> None:
    assert catalog.supports_reasoning("gpt-realtime-2.1-2026-09-01")
    assert catalog.supports_reasoning("gpt-realtime-2.1-mini-2026-09-01")
    assert catalog.shutdown_date("gpt-realtime-mini-2025-03-01") == dt.date(2027, 1, 20)
    assert catalog.shutdown_date("gpt-4o-transcribe-2025-03-20") == dt.date(2027, 2, 26)
    assert catalog.family("gpt-realtime-2") == "gpt-realtime-2"  # a version, not a date
    assert not catalog.supports_reasoning("gpt-realtime-2025-08-28")


def test_successors() -> None:
    assert catalog.successor("gpt-realtime") == "gpt-realtime-2.1"
    assert catalog.successor("gpt-realtime-mini-2025-12-15") == "gpt-realtime-2.1-mini"
    assert catalog.successor("gpt-4o-mini-transcribe") == "gpt-transcribe"
    assert catalog.successor("gpt-realtime-2.1") is None
    for old in ("gpt-realtime", "gpt-realtime-mini", "whisper-1"):
        new = catalog.successor(old)
        assert new is not None and catalog.shutdown_date(new) is None


def _settings(model: str, transcription: str) -> Settings:
    return Settings.model_validate(
        {"openai": {"model": model, "transcriptionModel": transcription}}
    )


def test_defaults_get_no_warning() -> None:
    assert catalog.shutdown_notices(Settings(), dt.date(2026, 11, 24)) == []
    assert catalog.shutdown_warnings(Settings(), dt.date(2030, 1, 1)) == []


def test_warnings_name_the_model_the_date_and_the_successor() -> None:
    settings = _settings("gpt-realtime", "gpt-4o-mini-transcribe")
    notices = catalog.shutdown_notices(settings, dt.date(2026, 11, 24))
    assert [(n.setting, n.model, n.level) for n in notices] == [
        ("openai.model", "gpt-realtime", "warning"),
        ("openai.transcriptionModel", "gpt-4o-mini-transcribe", "warning"),
    ]
    first, second = catalog.shutdown_warnings(settings, dt.date(2026, 11, 24))
    assert first == (
        "openai.model 'gpt-realtime' shuts down on 2027-01-20 (in 57 days): calls made with"
        " it will fail from then; set openai.model = 'gpt-realtime-2.1'"
    )
    assert "2027-02-26" in second and "'gpt-transcribe'" in second
    assert notices[0].as_json() == {
        "level": "warning",
        "setting": "openai.model",
        "model": "gpt-realtime",
        "shutdown_date": "2027-01-20",
        "successor": "gpt-realtime-2.1",
        "days_left": 57,
        "message": first,
    }


@pytest.mark.parametrize(
    ("today", "level", "words"),
    [
        (dt.date(2027, 1, 19), "warning", "(in 1 day)"),
        (dt.date(2027, 1, 20), "error", "shuts down today (2027-01-20): calls made with it fail"),
        (dt.date(2027, 3, 1), "error", "was shut down by OpenAI on 2027-01-20"),
    ],
)
def test_a_model_at_or_past_its_date_is_an_error(today: dt.date, level: str, words: str) -> None:
    (notice,) = catalog.shutdown_notices(_settings("gpt-realtime", "gpt-transcribe"), today)
    assert notice.level == level
    assert words in notice.message


def test_a_date_reported_by_the_api_wins() -> None:
    settings = _settings("gpt-realtime-2.1", "gpt-transcribe")
    reported = {"gpt-realtime-2.1": dt.date(2028, 5, 1)}
    (notice,) = catalog.shutdown_notices(settings, dt.date(2027, 5, 1), reported)
    assert (notice.model, notice.shutdown, notice.successor) == (
        "gpt-realtime-2.1",
        dt.date(2028, 5, 1),
        None,
    )
    assert "set openai.model" not in notice.message  # no successor known: none made up
