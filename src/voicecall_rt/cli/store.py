"""`voicecall-rt store`: the call database itself (copying a SQLite history into PostgreSQL)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from voicecall_rt.cli.shared import EXIT_CONFIG, ConfigOption, fail, out, settings_from
from voicecall_rt.config import StoreSettings

if TYPE_CHECKING:
    from voicecall_rt.store.copy import CopyReport

store_app = typer.Typer(help="The call database.", no_args_is_help=True)

FromOption = Annotated[
    Path | None,
    typer.Option(
        "--from",
        help="The data dir whose calls.sqlite3 to copy (default: the configured dataDir).",
        show_default=False,
    ),
]
ToOption = Annotated[
    str | None,
    typer.Option(
        "--to",
        help=(
            "The PostgreSQL URL to copy into (default: store.url or VOICECALL_RT_DATABASE_URL; "
            "prefer those for a URL with a password, which the process list would show)."
        ),
        show_default=False,
    ),
]


@store_app.command("copy")
def store_copy(
    source: FromOption = None, target: ToOption = None, config: ConfigOption = None
) -> None:
    """Copy every call, transcript line and event from SQLite into PostgreSQL.

    Ids and seqs are kept; running it again copies only what is missing. Calls that were
    not finished in SQLite are copied ended (copied-while-live). Stop the server that
    uses the SQLite file first.
    """
    from voicecall_rt.store import StoreError
    from voicecall_rt.store.copy import copy_history

    settings = settings_from(config)
    url = _target_url(target, settings.store)
    data_dir = source if source is not None else settings.data_dir
    try:
        report = asyncio.run(copy_history(data_dir, url))
    except StoreError as exc:
        fail(str(exc))
    _print_report(report)


def _target_url(target: str | None, configured: StoreSettings) -> str:
    if target is None:
        if configured.url is None:
            fail(
                "no PostgreSQL to copy into: pass --to, or set store.url "
                "(or VOICECALL_RT_DATABASE_URL)",
                EXIT_CONFIG,
            )
        return configured.url.get_secret_value()
    try:
        checked = StoreSettings.model_validate({"url": target}).url
    except ValidationError as exc:
        # The validator's messages never repeat the URL (it may hold a password).
        reasons = "; ".join(str(e["msg"]) for e in exc.errors())
        fail(f"--to: {reasons}", EXIT_CONFIG)
    if checked is None:
        fail("--to: empty", EXIT_CONFIG)
    return checked.get_secret_value()


def _print_report(report: CopyReport) -> None:
    # soft_wrap: a path or URL cut at the terminal's edge could not be copied back whole.
    out.print(f"from {report.source}\nto   {report.target}", highlight=False, soft_wrap=True)
    table = Table()
    table.add_column("")
    table.add_column("copied", justify="right")
    table.add_column("already there", justify="right")
    for name, counted in (
        ("calls", report.calls),
        ("transcript lines", report.transcript),
        ("events", report.events),
        ("scheduled calls", report.schedules),
        ("blocked numbers", report.blocked),
    ):
        table.add_row(name, str(counted.copied), str(counted.present))
    out.print(table)
    if report.settled:
        out.print(
            f"{len(report.settled)} call(s) were not finished in SQLite and were copied as "
            f"ended (copied-while-live): {', '.join(report.settled)}",
            highlight=False,
        )
