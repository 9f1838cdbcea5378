"""`voicecall-rt calls`: the call history, read from the local store."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import orjson
import typer

from voicecall_rt.cli.shared import ConfigOption, JsonOption, fail, out, settings_from
from voicecall_rt.config import Settings
from voicecall_rt.render import calls_table, show_call

calls_app = typer.Typer(help="Call history from the local store.", no_args_is_help=False)


@calls_app.callback(invoke_without_command=True)
def calls_default(
    ctx: typer.Context, config: ConfigOption = None, json_output: JsonOption = False
) -> None:
    """List recent calls (same as `calls list`)."""
    if ctx.invoked_subcommand is None:
        calls_list(config=config, json_output=json_output)


@calls_app.command("list")
def calls_list(
    config: ConfigOption = None,
    json_output: JsonOption = False,
    limit: Annotated[int, typer.Option(help="How many calls.")] = 20,
) -> None:
    """Recent calls, newest first."""
    from voicecall_rt.web.api import call_json

    settings = settings_from(config)
    records = asyncio.run(_history(settings, limit))
    if json_output:
        out.print_json(orjson.dumps([call_json(r, settings) for r in records]).decode())
        return
    out.print(calls_table(records, settings))


async def _history(settings: Settings, limit: int) -> list[Any]:
    from voicecall_rt.store import open_store

    store = await open_store(settings)
    try:
        return await store.list_calls(limit=limit)
    finally:
        await store.close()


@calls_app.command("show")
def calls_show(
    call_id: str,
    config: ConfigOption = None,
    json_output: JsonOption = False,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            "-f",
            help="A live call: show it as it happens, through the running server (with "
            "several instances, any of them: whichever runs the call).",
        ),
    ] = False,
) -> None:
    """One call: status, outcome and transcript."""
    settings = settings_from(config)
    if follow:
        if json_output:
            fail("--follow shows the call for people; use `call --wait --json` for machines")
        raise typer.Exit(asyncio.run(_follow_one(settings, call_id)))
    data = asyncio.run(_one_call(settings, call_id))
    if data is None:
        from voicecall_rt.store import store_where

        fail(f"no call {call_id} in {store_where(settings)}")
    if json_output:
        out.print_json(orjson.dumps(data).decode())
    else:
        show_call(out, data)


async def _follow_one(settings: Settings, call_id: str) -> int:
    from voicecall_rt.cli.call import LocalApi, follow_call

    api = LocalApi(settings)
    data = await api.request("GET", f"/api/calls/{call_id}")
    if not data["active"]:
        show_call(out, data)  # over already: what it was
        return 0
    record = data["call"]
    number = record["to_number"] if record["direction"] == "outbound" else record["from_number"]
    await follow_call(api, call_id, number)
    return 0  # shown, whatever its outcome (as `calls show`; `call` judges the outcome)


async def _one_call(settings: Settings, call_id: str) -> dict[str, Any] | None:
    from voicecall_rt.call.stats import latency_summary
    from voicecall_rt.store import open_store
    from voicecall_rt.web.api import call_json

    store = await open_store(settings)
    try:
        record = await store.get_call(call_id)
        if record is None:
            return None
        transcript = await store.transcript(call_id)
        events = await store.events(call_id)
    finally:
        await store.close()
    return {
        "call": call_json(record, settings),
        "transcript": [t.model_dump(mode="json") for t in transcript],
        "events": [e.model_dump(mode="json") for e in events],
        "latency": latency_summary(events).model_dump(mode="json"),
    }
