"""`voicecall-rt status`: is everything a real call needs in place? Each check says why not.

Secrets never appear in the report: the Account SID is masked to its first and last four
characters and keys are only said to be valid or not.

Two checks only warn (they never fail the report while there is still time): a configured
model with an announced shutdown date (an error once the date has come), and the last call
that ended on a fatal model error (the account or the session refused), read from the call
history.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

import aiohttp
import openai
import orjson
from rich.console import Console
from rich.markup import escape

from voicecall_rt.call.records import CallRecord
from voicecall_rt.carrier.base import HEALTH_HEADER
from voicecall_rt.carrier.registry import check_carrier
from voicecall_rt.config import Settings
from voicecall_rt.model import catalog
from voicecall_rt.public_url import PublicUrlError, Resolver, check_public_dns, system_resolver
from voicecall_rt.store import open_store, store_exists
from voicecall_rt.store.errors import StoreError

HTTP_TIMEOUT_S = 10.0
# End reasons of calls a fatal model error ended (call/bridge.py): the account, or the
# session the call needed, was refused. `model-failed` (a passing failure) is not one.
FATAL_MODEL_END_REASONS = frozenset({"model-fatal", "model-refused"})
# How far back the history is searched for one (the store lists the newest calls first).
HISTORY_LOOKBACK = 500

# (url) -> (status, value of our health header or None, body); injectable for tests.
HealthFetcher = Callable[[str], Awaitable[tuple[int, str | None, str]]]


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    # Worth a look but not a failure (the report's verdict counts only `ok`).
    warning: bool = False


async def fetch_health(url: str) -> tuple[int, str | None, str]:
    timeout = aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S)
    async with (
        aiohttp.ClientSession(timeout=timeout) as http,
        http.get(url, allow_redirects=False) as response,
    ):
        body = (await response.content.read(4096)).decode("utf-8", "replace")
        return response.status, response.headers.get(HEALTH_HEADER), body


def _is_our_health(status: int, header: str | None, body: str) -> bool:
    """Our header, and the configured carrier's health answer: a document for a carrier
    that fetches one (TwiML, cXML, Plivo XML), nothing for one that acts by REST (Telnyx)."""
    return status == 200 and header == "ok" and ("<Response>" in body or not body.strip())


async def check_openai(
    settings: Settings, reported: dict[str, dt.date | None] | None = None
) -> CheckResult:
    """Whether the key works and the model is there; the shutdown date OpenAI reports for
    the model (if any) is put in `reported` for the models check."""
    key = settings.openai.api_key
    if key is None:
        return CheckResult("openai", False, "openai.apiKey is not set")
    client = openai.AsyncOpenAI(
        api_key=key.get_secret_value(),
        base_url=settings.openai.rest_base_url,
        timeout=HTTP_TIMEOUT_S,
        max_retries=0,
    )
    model = settings.openai.model
    try:
        found = await client.models.retrieve(model)
    except openai.AuthenticationError:
        return CheckResult("openai", False, "the API key was refused")
    except openai.NotFoundError:
        return CheckResult("openai", False, f"the key works but model {model!r} is not available")
    except openai.APIError as exc:
        return CheckResult("openai", False, f"cannot check the key: {type(exc).__name__}")
    finally:
        await client.close()
    if reported is not None:
        reported[model] = _date(getattr(found, "shutdown_date", None))
    return CheckResult("openai", True, f"API key valid; model {model} available")


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def check_models(
    settings: Settings, today: dt.date, reported: dict[str, dt.date | None] | None = None
) -> CheckResult:
    """Announced shutdowns of the configured models: a warning, an error once due."""
    notices = catalog.shutdown_notices(settings, today, reported)
    if notices:
        failed = any(n.level == "error" for n in notices)
        return CheckResult(
            "models", not failed, "; ".join(n.message for n in notices), warning=not failed
        )
    ai = settings.openai
    effort = (
        f"reasoning effort {ai.reasoning_effort}"
        if catalog.supports_reasoning(ai.model)
        else "no reasoning"
    )
    return CheckResult(
        "models",
        True,
        f"{ai.model} ({effort}), transcription {ai.transcription_model}: no shutdown announced",
    )


async def last_fatal_model_error(settings: Settings) -> CallRecord | None:
    """The most recently ended call a fatal model error ended (among the newest
    `HISTORY_LOOKBACK`); None without one, or without a call history yet."""
    if not store_exists(settings):
        return None  # nothing to read, and status must not create the database
    store = await open_store(settings, create=False)
    try:
        records = await store.list_calls(limit=HISTORY_LOOKBACK)
    finally:
        await store.close()
    ended = [
        r for r in records if r.end_reason in FATAL_MODEL_END_REASONS and r.ended_at is not None
    ]
    return max(ended, key=lambda r: r.ended_at or 0, default=None)


async def check_model_errors(settings: Settings) -> CheckResult:
    try:
        record = await last_fatal_model_error(settings)
    except (StoreError, sqlite3.Error, OSError) as exc:
        return CheckResult("modelError", True, f"cannot read the call history: {exc}", True)
    if record is None:
        return CheckResult(
            "modelError",
            True,
            f"no call ended on a fatal model error (of the last {HISTORY_LOOKBACK})",
        )
    assert record.ended_at is not None
    when = dt.datetime.fromtimestamp(record.ended_at / 1000).strftime("%Y-%m-%d %H:%M:%S")
    error = record.error or "no message recorded"
    return CheckResult(
        "modelError",
        True,
        f"last fatal model error {when} (call {record.id}, {record.end_reason}): {error}",
        warning=True,
    )


async def check_public_url(
    settings: Settings, resolver: Resolver, fetch: HealthFetcher
) -> list[CheckResult]:
    public = settings.public_url
    if public is None:
        return [CheckResult("publicUrl", False, "publicUrl is not set")]
    try:
        addresses = await check_public_dns(public, resolver)
    except PublicUrlError as exc:
        return [CheckResult("publicUrl", False, str(exc))]
    results = [CheckResult("publicUrl", True, f"{public} resolves to {', '.join(addresses)}")]
    url = f"{public}/voice/answer"
    try:
        answer = await fetch(url)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        results.append(CheckResult("tunnel", False, f"{url} unreachable: {type(exc).__name__}"))
        return results
    ok = _is_our_health(*answer)
    detail = (
        f"{url} reaches this server"
        if ok
        else f"{url} answered HTTP {answer[0]} but not with our health answer"
    )
    results.append(CheckResult("tunnel", ok, detail))
    return results


async def check_server(settings: Settings, fetch: HealthFetcher) -> CheckResult:
    url = f"{settings.local_url}/voice/answer"
    try:
        answer = await fetch(url)
    except (aiohttp.ClientError, TimeoutError, OSError):
        return CheckResult("server", False, f"nothing is listening at {url}")
    if _is_our_health(*answer):
        return CheckResult("server", True, f"listening at {url}")
    return CheckResult("server", False, f"{url} is something else (HTTP {answer[0]})")


async def run_checks(
    settings: Settings | None,
    config_error: str | None = None,
    *,
    resolver: Resolver = system_resolver,
    fetch: HealthFetcher = fetch_health,
    today: dt.date | None = None,
) -> list[CheckResult]:
    if settings is None:
        return [CheckResult("config", False, config_error or "no configuration")]
    missing = settings.missing_for_calls()
    results = [
        CheckResult(
            "config",
            not missing,
            "valid" if not missing else "missing: " + ", ".join(missing),
        )
    ]
    results += [CheckResult(c.name, c.ok, c.detail) for c in await check_carrier(settings)]
    reported: dict[str, dt.date | None] = {}
    results.append(await check_openai(settings, reported))
    results.append(check_models(settings, today or dt.date.today(), reported))
    results += await check_public_url(settings, resolver, fetch)
    results.append(await check_server(settings, fetch))
    results.append(await check_model_errors(settings))
    results.append(await check_store(settings))
    return results


async def check_store(settings: Settings) -> CheckResult:
    from voicecall_rt.cluster.report import describe_store

    ok, detail = await describe_store(settings)
    return CheckResult("store", ok, detail)


def print_report(results: list[CheckResult], console: Console, *, json_output: bool) -> None:
    if json_output:
        # `warning` only where there is one: the shape stays what it was for the rest.
        checks = [{k: v for k, v in asdict(r).items() if k != "warning" or v} for r in results]
        console.print_json(
            orjson.dumps({"ok": all(r.ok for r in results), "checks": checks}).decode()
        )
        return
    for result in results:
        if not result.ok:
            mark = "[red]failed[/red] "
        elif result.warning:
            mark = "[yellow]warning[/yellow]"
        else:
            mark = "[green]ok[/green]     "
        # Details quote other parties (OpenAI's error messages): text, never markup.
        console.print(f"{mark} {result.name:<11} {escape(result.detail)}", highlight=False)
