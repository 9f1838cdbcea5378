"""`voicecall-rt call`: place a call through the running server, and optionally wait for
it or follow it live."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, NoReturn

import orjson
import typer
from rich.markup import escape

from voicecall_rt.cli.shared import (
    EXIT_FAILED,
    EXIT_NO_SERVER,
    ConfigOption,
    JsonOption,
    err,
    fail,
    out,
    settings_from,
)
from voicecall_rt.config import Settings
from voicecall_rt.local_client import LocalApiError, LocalClient
from voicecall_rt.outcome_schema import OutcomeSchemaError, check_outcome_schema
from voicecall_rt.render import describe_error, print_entry, print_outcome, show_call


class LocalApi:
    """The local API for CLI commands: any failure is a one-line error and an exit code."""

    def __init__(self, settings: Settings) -> None:
        self._client = LocalClient.for_settings(settings)

    @staticmethod
    def _fail(exc: LocalApiError) -> NoReturn:
        # The API's words may hold brackets (a JSON path, a quoted list): not markup.
        message = escape(str(exc).splitlines()[0])
        fail(message, EXIT_NO_SERVER if exc.no_server else EXIT_FAILED)

    async def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            return await self._client.request(method, path, body)
        except LocalApiError as exc:
            self._fail(exc)

    async def events(self, call_id: str) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """The call's server-sent events (history, then live) until the call settles."""
        try:
            async for event in self._client.follow(call_id):
                yield event
        except LocalApiError as exc:
            self._fail(exc)


def call(
    number: Annotated[
        str, typer.Option("--number", "-n", help="Number to call, E.164 (+14155551234).")
    ],
    task: Annotated[str, typer.Option("--task", "-t", help="What the call should achieve.")] = "",
    prompt_file: Annotated[
        Path | None,
        typer.Option("--prompt-file", help="A fuller brief for the voice agent, from a file."),
    ] = None,
    session_key: Annotated[
        str | None,
        typer.Option("--session-key", help="Passed back with the result by the notify webhook."),
    ] = None,
    outcome_schema_file: Annotated[
        Path | None,
        typer.Option(
            "--outcome-schema",
            help="A JSON Schema file for the outcome's details (docs/outcomes.md).",
        ),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="Place it later: an ISO 8601 time, with an offset (2026-03-02T09:30+01:00)"
            " or with --tz.",
        ),
    ] = None,
    tz: Annotated[
        str | None,
        typer.Option("--tz", help="The IANA time zone of an --at without offset (Europe/Paris)."),
    ] = None,
    when_allowed: Annotated[
        bool,
        typer.Option(
            "--when-allowed",
            help="Outside the callee's calling hours, schedule it for the next allowed time.",
        ),
    ] = False,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait",
            help="Wait for the call to end (with retries or --at: its final attempt) and print"
            " its outcome.",
        ),
    ] = False,
    follow: Annotated[
        bool,
        typer.Option("--follow", "-f", help="Show the call live: status, transcript, outcome."),
    ] = False,
    json_output: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Place a call through the running server."""
    settings = settings_from(config)
    system_prompt = None
    if prompt_file is not None:
        try:
            system_prompt = prompt_file.read_text(encoding="utf-8")
        except OSError as exc:
            fail(f"cannot read {prompt_file}: {exc.strerror}")
    if not task and not system_prompt:
        fail("say what the call is for with --task or --prompt-file")
    if follow and json_output:
        fail("--follow shows the call for people; use --wait --json for machines")
    body: dict[str, Any] = {"to": number, "task": task}
    if system_prompt:
        body["systemPrompt"] = system_prompt
    if session_key:
        body["sessionKey"] = session_key
    if outcome_schema_file is not None:
        body["outcomeSchema"] = read_outcome_schema(outcome_schema_file)
    if at is not None:
        body["at"] = at
    if tz is not None:
        body["timeZone"] = tz
    if when_allowed:
        body["whenAllowed"] = True
    raise typer.Exit(asyncio.run(_call(settings, body, wait, json_output, follow)))


def read_outcome_schema(path: Path) -> dict[str, Any]:
    """The schema in `path`, refused here as the server would refuse it (before dialling)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        fail(escape(f"cannot read {path}: {exc.strerror}"))
    try:
        schema = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        fail(escape(f"{path.name} is not valid JSON: {str(exc).splitlines()[0]}"))
    try:
        return check_outcome_schema(schema)
    except OutcomeSchemaError as exc:
        fail(escape(f"{path.name}: {exc}"))


async def _call(
    settings: Settings, body: dict[str, Any], wait: bool, json_output: bool, follow: bool
) -> int:
    api = LocalApi(settings)
    placed = await api.request("POST", "/api/calls", body)
    if "schedule" in placed and (wait or "call" not in placed):
        return await scheduled_call(api, placed, wait, json_output)
    call_id = placed["call"]["id"]
    if follow:
        return await follow_call(api, call_id, placed["call"]["to_number"])
    if not wait:
        if json_output:
            out.print_json(orjson.dumps(placed["call"]).decode())
        else:
            out.print(f"call {call_id} placed to {placed['call']['to_number']}")
        return 0
    if not json_output:
        err.print(f"call {call_id} placed; waiting for it to end…")
    while True:
        data = await api.request("GET", f"/api/calls/{call_id}?wait=30")
        if not data["active"]:
            break
    return report_call(data, json_output)


async def scheduled_call(
    api: LocalApi, placed: dict[str, Any], wait: bool, json_output: bool
) -> int:
    """A call stored for later, or placed with retries to follow (`--wait`)."""
    from voicecall_rt.cli.scheduled import follow_schedule, scheduled_message

    schedule = placed["schedule"]
    if not wait:
        if json_output:
            out.print_json(orjson.dumps(schedule).decode())
        else:
            out.print(scheduled_message(schedule))
        return 0
    if not json_output:
        first = placed.get("call")
        said = f"call {first['id']} placed" if first else scheduled_message(schedule)
        err.print(f"{said}; waiting for its final attempt…")
    return await follow_schedule(api, schedule["id"], json_output)


async def follow_call(api: LocalApi, call_id: str, number: str) -> int:
    """Print the call as it happens, under a status line that keeps the elapsed time; 0 if
    it ended with an outcome."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    state = {"status": "dialling"}  # written as events arrive, read by the ticker

    def status_line() -> str:
        return f"{number} · {state['status']} · {loop.time() - started:4.0f}s"

    with out.status(status_line()) as spinner:

        async def tick() -> None:
            while True:
                spinner.update(status_line())
                await asyncio.sleep(0.5)

        ticker = asyncio.create_task(tick())
        try:
            async for kind, entry in api.events(call_id):
                if kind == "end" and "call" in entry:
                    break  # the stream's last word (the journal's own `end` comes before it)
                if kind == "call.status":
                    state["status"] = entry["data"]["status"]
                print_entry(out, entry)
        finally:
            ticker.cancel()
    data = await api.request("GET", f"/api/calls/{call_id}")
    ok = print_outcome(out, data) and data["call"].get("outcome") is not None
    return 0 if ok else EXIT_FAILED


def report_call(data: dict[str, Any], json_output: bool) -> int:
    """Print a finished call; exit code 0 only for a completed call with a reported outcome."""
    record = data["call"]
    outcome = record.get("outcome")
    ok = record["status"] == "completed" and outcome is not None
    if json_output:
        out.print_json(
            orjson.dumps(
                {
                    "call_id": record["id"],
                    "status": record["status"],
                    "end_reason": record.get("end_reason"),
                    "error": record.get("error"),
                    "duration_s": record.get("duration_s"),
                    "answered_by": record.get("answered_by"),
                    "outcome": outcome,
                    "cost": record.get("cost"),
                    "transcript": [
                        {"role": t["role"], "text": t["text"], "t_ms": t["t_ms"]}
                        for t in data.get("transcript", [])
                    ],
                }
            ).decode()
        )
    else:
        show_call(out, data)
    if not ok:  # also with --json: callers read the reason on stderr
        ended = record.get("end_reason") or record["status"]
        error = describe_error(record)
        if error:  # a completed call may still have ended on an error (the model's, say)
            reason = f"call {ended}: {error}"
        elif record["status"] == "completed":
            reason = "no outcome was reported"
        else:
            reason = f"call {ended}"
        err.print(f"[red]error:[/red] {escape(reason)}", highlight=False)
    return 0 if ok else EXIT_FAILED
