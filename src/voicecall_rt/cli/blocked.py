"""`voicecall-rt calls blocked` and `calls unblock NUMBER`: the numbers recorded as never to
be called again (store/blocklist.py), read and changed in the store directly, as `calls`
reads the history. The configured blocklist is the config's `calls.blockedNumbers`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

import orjson
import typer
from rich.markup import escape
from rich.table import Table

from voicecall_rt.cli.shared import ConfigOption, JsonOption, fail, out, settings_from
from voicecall_rt.config import Settings
from voicecall_rt.phone import normalize_e164
from voicecall_rt.store.blocklist import BlockedNumber, list_blocked, unblock


def calls_blocked(config: ConfigOption = None, json_output: JsonOption = False) -> None:
    """Numbers never to be called: those recorded (asked not to be called again) and the
    configured calls.blockedNumbers."""
    settings = settings_from(config)
    recorded = asyncio.run(_recorded(settings))
    configured = settings.calls.blocked_numbers
    if json_output:
        rows = [
            {
                "number": b.number,
                "source": b.source,
                "reason": b.reason,
                "call_id": b.call_id,
                "created_at": b.created_at,
            }
            for b in recorded
        ]
        rows += [{"number": n, "source": "config"} for n in configured]
        out.print_json(orjson.dumps(rows).decode())
        return
    if not recorded and not configured:
        out.print("No blocked numbers.")
        return
    table = Table("number", "source", "since (UTC)", "call", "reason")
    for b in recorded:
        when = datetime.fromtimestamp(b.created_at / 1000, UTC)
        table.add_row(
            b.number, b.source, f"{when:%Y-%m-%d %H:%M}", b.call_id or "", escape(b.reason)
        )
    for number in configured:
        table.add_row(number, "calls.blockedNumbers", "", "", "")
    out.print(table)


def calls_unblock(
    number: Annotated[str, typer.Argument(help="The number, E.164 (+14155551234).")],
    config: ConfigOption = None,
) -> None:
    """Call a recorded number again (one that asked not to be called)."""
    settings = settings_from(config)
    try:
        number = normalize_e164(number)
    except ValueError as exc:
        fail(escape(str(exc)))
    if not asyncio.run(_unblock(settings, number)):
        if number in settings.calls.blocked_numbers:
            fail(f"{number} is in the config's calls.blockedNumbers: remove it there")
        fail(f"{number} is not blocked")
    out.print(f"{number} may be called again.")


async def _recorded(settings: Settings) -> list[BlockedNumber]:
    from voicecall_rt.store import open_store

    store = await open_store(settings)
    try:
        return await list_blocked(store)
    finally:
        await store.close()


async def _unblock(settings: Settings, number: str) -> bool:
    from voicecall_rt.store import open_store

    store = await open_store(settings)
    try:
        return await unblock(store, number)
    finally:
        await store.close()
