"""Secrets stay secret: not in logs (even at DEBUG, even with `debug` on), not in the status
report, not in API answers; and without `debug`, what was said on a call is not logged."""

from __future__ import annotations

import base64
import io
import logging
from pathlib import Path
from urllib.parse import urlsplit

import orjson
import pytest
from rich.console import Console

from tests.helpers.carrier_inputs import INPUTS, all_secrets, masked
from tests.helpers.world import MakeWorld
from voicecall_rt.simulator.plivo import fake as plivo_fake
from voicecall_rt.simulator.scenario import CallTool, Say, Speak
from voicecall_rt.simulator.scenarios import pizza_booking
from voicecall_rt.simulator.signalwire import fake as signalwire_fake
from voicecall_rt.simulator.telnyx import fake as telnyx_fake
from voicecall_rt.simulator.twilio import fake as twilio_fake
from voicecall_rt.simulator.world import API_KEY, SimWorld, tunnel_resolver
from voicecall_rt.status import fetch_health, print_report, run_checks


def _log_text(records: list[logging.LogRecord], min_level: int = logging.DEBUG) -> str:
    """Every record as it would be written: message with its arguments, tracebacks."""
    parts = []
    for record in records:
        if record.levelno < min_level:
            continue
        parts.append(record.getMessage())
        if record.exc_info:
            parts.append(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            parts.append(record.stack_info)
    return "\n".join(parts)


async def _status_report(world: SimWorld) -> str:
    """`voicecall-rt status` and `status --json` against the running world."""

    async def through_tunnel(url: str) -> tuple[int, str | None, str]:
        # The public URL (and the configured port 0) both lead to the loopback server.
        return await fetch_health(world.server.local_url + urlsplit(url).path)

    results = await run_checks(
        world.server.settings, resolver=tunnel_resolver, fetch=through_tunnel
    )
    failed = [r for r in results if not r.ok]
    assert failed == [], failed  # every check ran its whole path
    output = io.StringIO()
    console = Console(file=output, width=200, force_terminal=False)
    print_report(results, console, json_output=False)
    print_report(results, console, json_output=True)
    return output.getvalue()


def _carrier_credentials(carrier: str) -> dict[str, str]:
    """How each carrier's credentials travel to its REST API (Basic, or Telnyx's Bearer),
    which a careless log of a request's headers would show."""
    if carrier == "twilio":
        pair = f"{twilio_fake.ACCOUNT_SID}:{twilio_fake.AUTH_TOKEN}"
    elif carrier == "signalwire":
        pair = f"{signalwire_fake.PROJECT_ID}:{signalwire_fake.API_TOKEN}"
    elif carrier == "plivo":
        pair = f"{plivo_fake.AUTH_ID}:{plivo_fake.AUTH_TOKEN}"
    else:
        return {"Telnyx Bearer header": f"Bearer {telnyx_fake.API_KEY}"}
    return {f"{carrier} Basic credentials": base64.b64encode(pair.encode()).decode()}


def _files_text(root: Path) -> str:
    """Everything our server wrote under its data dir (the store, recordings, journals), as
    text, for a secret to be searched in."""
    return "\n".join(
        path.read_bytes().decode("latin-1") for path in sorted(root.rglob("*")) if path.is_file()
    )


@pytest.mark.parametrize("debug", [False, True], ids=["debug-off", "debug-on"])
async def test_no_secret_in_logs_status_or_api(
    make_world: MakeWorld, caplog: pytest.LogCaptureFixture, carrier: str, debug: bool
) -> None:
    caplog.set_level(logging.DEBUG)
    scenario = pizza_booking(scale=0.3)
    shared_key = "twilio-shared-key-secret-0123456789"
    extra = {"twilio.webhookSharedKeys": [shared_key]} if carrier == "twilio" else {}
    # With `debug` on the call is recorded: the recordings must hold no secret either.
    world = await make_world(scenario.carrier, scenario.model, debug=debug, **extra)
    api_token = world.server.api_token
    inputs = INPUTS[carrier]
    # Every fake carrier's secrets: this carrier's, and none of another's leaks by accident.
    secrets = {
        **all_secrets(),
        **_carrier_credentials(carrier),
        "OpenAI key": API_KEY,
    }
    if carrier == "twilio":
        secrets["Twilio webhook SharedKey"] = shared_key

    call_id = await world.place(scenario.to_number, scenario.task)
    data = await world.wait_call(call_id)
    assert data["call"]["status"] == "completed"
    assert data["call"]["outcome"]["success"] is True

    # What the API answers, including its refusals.
    api_answers = [orjson.dumps(data).decode()]
    for method, path in [("GET", "/api/calls"), ("GET", f"/api/calls/{call_id}")]:
        status, body = await world.api(method, path)
        assert status == 200
        api_answers.append(orjson.dumps(body).decode())
    status, body = await world.api("GET", "/api/calls", token="wrong")
    assert status == 401
    api_answers.append(orjson.dumps(body).decode())
    status, body = await world.api("POST", "/api/calls", {"to": "+1", "task": "x"})
    assert status == 400
    api_answers.append(orjson.dumps(body).decode())
    api_text = "\n".join(api_answers)

    report = await _status_report(world)
    reprs = f"{world.server.settings!r}\n{world.server.settings}"
    logs = _log_text(caplog.records)
    assert "settled" in logs  # the capture did see the call's own log lines
    files = _files_text(world.server.settings.data_dir)
    if debug:
        assert ".wav" in "\n".join(p.name for p in world.server.settings.data_dir.rglob("*"))

    for name, secret in {**secrets, "API token": api_token}.items():
        assert secret not in logs, f"{name} in the logs"
        assert secret not in report, f"{name} in the status report"
        assert secret not in api_text, f"{name} in an API answer"
        assert secret not in reprs, f"{name} in the settings' repr"
    for name, secret in secrets.items():  # the API token is kept in the data dir, 0600
        assert secret not in files, f"{name} in the data dir"
    if inputs.account_id:
        assert inputs.account_id not in report
        assert masked(inputs.account_id) in report

    if not debug:
        # What was said stays out of the logs (it is in the store, for the user only).
        said = [step.text for step in scenario.carrier.callee if isinstance(step, Speak)]
        actions = [action for turn in scenario.model.turns for action in turn]
        said += [a.text for a in actions if isinstance(a, Say)]
        said += [
            str(a.arguments["summary"])
            for a in actions
            if isinstance(a, CallTool) and "summary" in a.arguments
        ]
        said.append(scenario.task)
        # The simulators stand in for Twilio and OpenAI; only our server's lines count here.
        ours = [r for r in caplog.records if not r.name.startswith("voicecall_rt.simulator")]
        info_and_up = _log_text(ours, logging.INFO)
        for text in said:
            assert text not in info_and_up, f"call content logged: {text!r}"
            # Nor any distinctive part of it (a line cut short is still a leak).
            assert text[:24] not in info_and_up, f"call content logged: {text[:24]!r}"
