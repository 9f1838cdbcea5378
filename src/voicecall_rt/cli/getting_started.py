"""Getting started: `init` writes a configuration template, `status` checks the setup, and
`demo` runs a whole call offline."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from voicecall_rt.cli.shared import EXIT_FAILED, ConfigOption, JsonOption, fail, out, settings_from
from voicecall_rt.config import ConfigError, Settings
from voicecall_rt.config_carriers import CarrierName
from voicecall_rt.config_file import default_config_paths, load_settings
from voicecall_rt.config_template import TEMPLATE
from voicecall_rt.private_files import write_private


def status(config: ConfigOption = None, json_output: JsonOption = False) -> None:
    """Check the configuration, the carrier, OpenAI, the public URL and the local server."""
    from voicecall_rt.status import print_report, run_checks

    try:
        settings: Settings | None = load_settings(config)
        config_error = None
    except ConfigError as exc:
        settings, config_error = None, str(exc)
    results = asyncio.run(run_checks(settings, config_error))
    print_report(results, out, json_output=json_output)
    raise typer.Exit(0 if all(r.ok for r in results) else EXIT_FAILED)


def demo(
    config: ConfigOption = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir", help="Keep the demo's call history here (default: a temporary dir)."
        ),
    ] = None,
    carrier: Annotated[
        CarrierName,
        typer.Option("--carrier", help="Which carrier's simulator carries the call."),
    ] = "twilio",
) -> None:
    """Run a whole simulated call offline: fake carrier, fake model, the real server.

    With --config, your voice, VAD and call settings are used; credentials and URLs never
    are (the demo talks only to its simulators).
    """
    from voicecall_rt.demo import run_demo

    settings = settings_from(config) if config is not None else None

    code = asyncio.run(run_demo(out, data_dir, settings=settings, carrier=carrier))
    raise typer.Exit(code)


def init(
    config: ConfigOption = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented configuration template (0600)."""
    path = (config or default_config_paths()[0]).expanduser()
    if path.exists() and not force:
        fail(f"{path} already exists (use --force to overwrite)")
    write_private(path, TEMPLATE.encode())
    out.print(
        f"wrote {path}; choose your carrier, fill in its section and your OpenAI key, "
        "then run `voicecall-rt status`"
    )
