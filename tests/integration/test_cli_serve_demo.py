"""The real `serve`, `demo` and `init` commands, as a user runs them."""

from __future__ import annotations

import asyncio
import io
import signal
import stat
import tomllib
from pathlib import Path

import pytest
from rich.console import Console

from tests.helpers.cli import cli, free_port
from tests.helpers.serve_process import start_serve
from voicecall_rt.config import Settings
from voicecall_rt.config_carriers import CARRIER_NAMES, CarrierName
from voicecall_rt.demo import run_demo
from voicecall_rt.simulator.openai.server import FakeRealtimeServer
from voicecall_rt.simulator.scenario import CallPlan, ModelScript, Pause, Say, Speak
from voicecall_rt.simulator.twilio.carrier import FakeTwilio
from voicecall_rt.simulator.twilio.fake import ACCOUNT_SID, AUTH_TOKEN
from voicecall_rt.simulator.world import API_KEY, FROM_NUMBER

# An IP-literal public origin needs no DNS, so the real `serve` can run offline; the fake
# carrier plays the tunnel from it to the subprocess's loopback port.
PUBLIC = "https://93.184.215.14"

# Every test runs the real console script as a child process (or the whole demo).
pytestmark = pytest.mark.slow


async def test_serve_runs_calls_and_ctrl_c_twice_ends_them_cleanly(tmp_path: Path) -> None:
    plan = CallPlan(callee=(Speak("Hello, Maria speaking.", 400), Pause(60_000)))
    script = ModelScript(
        turns=((Say("Hi Maria, I'm an AI assistant calling for Alex.", 600),),),
        caller_transcripts=("Hello, Maria speaking.",),
    )
    port = free_port()
    async with (
        FakeRealtimeServer(script, api_key=API_KEY) as model,
        FakeTwilio(
            account_sid=ACCOUNT_SID,
            auth_token=AUTH_TOKEN,
            tunnel={PUBLIC: f"http://127.0.0.1:{port}"},
            plans=plan,
            owned_numbers=(FROM_NUMBER,),
        ) as carrier,
    ):
        config = tmp_path / "config.toml"
        config.write_text(
            f'fromNumber = "{FROM_NUMBER}"\npublicUrl = "{PUBLIC}"\n'
            f'dataDir = "{tmp_path / "data"}"\n'
            f'[twilio]\naccountSid = "{ACCOUNT_SID}"\nauthToken = "{AUTH_TOKEN}"\n'
            f'apiBaseUrl = "{carrier.api_base_url}"\n'
            f'[openai]\napiKey = "{API_KEY}"\nrealtimeUrl = "{model.realtime_url}"\n'
            f"[server]\nport = {port}\n",
            encoding="utf-8",
        )
        server = await start_serve(config)
        assert server.stderr is not None
        try:
            async with asyncio.timeout(30):
                while b"listening on" not in await server.stderr.readline():
                    pass
            code, out, err = await cli("call", "-n", "+14155550123", "-t", "Say hi", config=config)
            assert code == 0, err
            call = await carrier.wait_call()
            # the model has spoken to Maria: the bridge is live
            await call.wait_for(lambda: call.played_ms > 300, 20)
            server.send_signal(signal.SIGINT)  # drains: the live call may go on...
            async with asyncio.timeout(30):
                while b"draining" not in await server.stderr.readline():
                    pass
            server.send_signal(signal.SIGINT)  # ...and a second Ctrl-C stops at once
            async with asyncio.timeout(30):
                _, err_tail = await server.communicate()
        finally:
            if server.returncode is None:
                server.kill()
                await server.wait()
        assert server.returncode == 0, err_tail.decode()
        assert b"Traceback" not in err_tail
        # Ctrl-C hung the live call up through the carrier and closed its model socket.
        assert [u.params.get("Status") for u in carrier.updates] == [["completed"]]
        assert all(session.closed.is_set() for session in model.sessions)
    code, out, _ = await cli("calls", "list", "--json", config=config)
    assert code == 0 and '"shutdown"' in out and '"completed"' in out


async def test_demo_completes_and_keeps_history_when_asked(
    tmp_path: Path, carrier: CarrierName
) -> None:
    # `carrier`: each carrier's simulator in turn (`demo --carrier`; tests/conftest.py)
    shown_text = io.StringIO()
    console = Console(file=shown_text, width=200)
    code = await run_demo(console, tmp_path / "history", scale=0.3, carrier=carrier)
    text = shown_text.getvalue()
    assert code == 0, text
    assert f"a fake {CARRIER_NAMES[carrier]} carrier" in text
    for shown in ("pressed 1", "(interrupted)", "report_outcome", "call outcome", "4472"):
        assert shown in text, shown
    assert (tmp_path / "history" / "calls.sqlite3").is_file()


async def test_init_writes_a_private_template_that_loads(tmp_path: Path) -> None:
    target = tmp_path / "conf" / "config.toml"
    code, _, err = await cli("init", config=target)
    assert code == 0, err
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    Settings.model_validate(tomllib.loads(target.read_text()))
    code, _, err = await cli("init", config=target)
    assert code != 0 and "already exists" in err  # never overwrites without --force
