"""What the commands share: the consoles, the common options, the exit codes, and how a
command fails."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from voicecall_rt.config import ConfigError, Settings
from voicecall_rt.config_file import load_settings

out = Console()
err = Console(stderr=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="Config file (TOML, JSON, or an openclaw.json).", show_default=False
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]

EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_NO_SERVER = 3


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", highlight=False, markup=True)
    raise typer.Exit(code)


def settings_from(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as exc:
        fail(str(exc), EXIT_CONFIG)
