"""`voicecall-rt`: serve, call, status, calls, store, demo, init, mcp.

Each command lives in a module of this package (`serve`, `call`, `calls`, `store`,
`getting_started`); this one puts them on the app, in the order `--help` lists them.
"""

from __future__ import annotations

import contextlib
from typing import Annotated

import typer

from voicecall_rt import __version__
from voicecall_rt.cli import blocked, call, calls, getting_started, scheduled, serve, store
from voicecall_rt.cli.shared import out

app = typer.Typer(
    help=(
        "AI phone calls over Twilio, Telnyx, Plivo or SignalWire, bridged straight to "
        "OpenAI's Realtime API."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
calls.calls_app.command("blocked")(blocked.calls_blocked)
calls.calls_app.command("unblock")(blocked.calls_unblock)
calls.calls_app.command("scheduled")(scheduled.calls_scheduled)
calls.calls_app.command("cancel")(scheduled.calls_cancel)
app.add_typer(calls.calls_app, name="calls")
app.add_typer(store.store_app, name="store")


def version_callback(value: bool) -> None:
    if value:
        out.print(__version__)
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=version_callback, is_eager=True, help="Show the version."
        ),
    ] = False,
) -> None:
    """AI phone calls over Twilio, Telnyx, Plivo or SignalWire, bridged straight to
    OpenAI's Realtime API."""


app.command()(serve.serve)
app.command()(call.call)
app.command()(getting_started.status)
app.command()(getting_started.demo)
app.command()(getting_started.init)
app.command()(serve.mcp)


def main() -> None:
    with contextlib.suppress(KeyboardInterrupt):
        app()
