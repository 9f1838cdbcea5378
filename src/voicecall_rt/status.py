"""`voicecall-rt status`: is everything a real call needs in place? Each check says why not.

Secrets never appear in the report: the Account SID is masked to its first and last four
characters and keys are only said to be valid or not.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass

import aiohttp
import openai
import orjson
from rich.console import Console

from voicecall_rt.carrier.twilio import HEALTH_HEADER, CarrierError, TwilioCarrier, mask_sid
from voicecall_rt.config import Settings
from voicecall_rt.public_url import PublicUrlError, Resolver, check_public_dns, system_resolver

HTTP_TIMEOUT_S = 10.0

# (url) -> (status, value of our health header or None, body); injectable for tests.
HealthFetcher = Callable[[str], Awaitable[tuple[int, str | None, str]]]


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str


async def fetch_health(url: str) -> tuple[int, str | None, str]:
    timeout = aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S)
    async with (
        aiohttp.ClientSession(timeout=timeout) as http,
        http.get(url, allow_redirects=False) as response,
    ):
        body = (await response.content.read(4096)).decode("utf-8", "replace")
        return response.status, response.headers.get(HEALTH_HEADER), body


def _is_our_health(status: int, header: str | None, body: str) -> bool:
    return status == 200 and header == "ok" and "<Response>" in body


async def check_twilio(settings: Settings) -> list[CheckResult]:
    sid, token = settings.twilio.account_sid, settings.twilio.auth_token
    if not sid or token is None:
        return [CheckResult("twilio", False, "twilio.accountSid and twilio.authToken are not set")]
    carrier = TwilioCarrier(sid, token.get_secret_value(), settings.twilio.api_base_url)
    try:
        try:
            state = await carrier.fetch_account_status()
        except CarrierError as exc:
            return [CheckResult("twilio", False, f"account {mask_sid(sid)}: {exc}")]
        results = [
            CheckResult(
                "twilio",
                state == "active",
                f"account {mask_sid(sid)} is {state}",
            )
        ]
        if not settings.from_number:
            results.append(CheckResult("fromNumber", False, "fromNumber is not set"))
            return results
        try:
            owned = await carrier.owns_number(settings.from_number)
        except CarrierError as exc:
            results.append(CheckResult("fromNumber", False, str(exc)))
            return results
        results.append(
            CheckResult(
                "fromNumber",
                owned,
                f"{settings.from_number} "
                + ("belongs to the account" if owned else "is not a number of this account"),
            )
        )
        return results
    finally:
        await carrier.close()


async def check_openai(settings: Settings) -> CheckResult:
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
        await client.models.retrieve(model)
    except openai.AuthenticationError:
        return CheckResult("openai", False, "the API key was refused")
    except openai.NotFoundError:
        return CheckResult("openai", False, f"the key works but model {model!r} is not available")
    except openai.APIError as exc:
        return CheckResult("openai", False, f"cannot check the key: {type(exc).__name__}")
    finally:
        await client.close()
    return CheckResult("openai", True, f"API key valid; model {model} available")


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
    results += await check_twilio(settings)
    results.append(await check_openai(settings))
    results += await check_public_url(settings, resolver, fetch)
    results.append(await check_server(settings, fetch))
    return results


def print_report(results: list[CheckResult], console: Console, *, json_output: bool) -> None:
    if json_output:
        console.print_json(
            orjson.dumps(
                {"ok": all(r.ok for r in results), "checks": [asdict(r) for r in results]}
            ).decode()
        )
        return
    for result in results:
        mark = "[green]ok    [/green]" if result.ok else "[red]failed[/red]"
        console.print(f"{mark} {result.name:<11} {result.detail}", highlight=False)
