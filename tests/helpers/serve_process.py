"""A real `voicecall-rt serve` child process against a fake carrier and the fake model, for
the tests about what a process does: signals, exit codes, what it prints.

The fake carrier plays the tunnel from a public IP literal (no DNS needed) to the child's
loopback port; the child's stderr is read as it comes, so a test can wait for a line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from tests.helpers.cli import cli_command, cli_env, free_port
from tests.helpers.polling import eventually
from voicecall_rt.config_carriers import CarrierName
from voicecall_rt.simulator.fakes import FakeCarrier, FakeParams, fake_spec
from voicecall_rt.simulator.openai.server import FakeRealtimeServer
from voicecall_rt.simulator.scenario import CallPlan, ModelScript
from voicecall_rt.simulator.world import API_KEY, FROM_NUMBER, TUNNEL_ADDRESS, _nest

PUBLIC = f"https://{TUNNEL_ADDRESS}"


class ServeProcess:
    """The running child: its stderr lines, its local API, and the signals it is sent."""

    def __init__(
        self,
        process: asyncio.subprocess.Process,
        *,
        base_url: str,
        data_dir: Path,
        config: Path,
        carrier: FakeCarrier,
        model: FakeRealtimeServer,
    ) -> None:
        self.process = process
        self.base_url = base_url
        self.data_dir = data_dir
        self.config = config
        self.carrier = carrier
        self.model = model
        self.lines: list[str] = []
        self._changed = asyncio.Condition()
        self._reader = asyncio.create_task(self._read_stderr(), name="serve-stderr")
        self._http = aiohttp.ClientSession()

    async def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        while line := await self.process.stderr.readline():
            async with self._changed:
                self.lines.append(line.decode(errors="replace"))
                self._changed.notify_all()
        async with self._changed:
            self._changed.notify_all()  # the end of stderr wakes waiters too

    @property
    def stderr(self) -> str:
        return "".join(self.lines)

    async def wait_line(self, text: str, timeout_s: float = 30.0) -> str:
        """The first stderr line holding `text`, once printed."""

        def found() -> str | None:
            return next((line for line in self.lines if text in line), None)

        async with asyncio.timeout(timeout_s), self._changed:
            while (line := found()) is None:
                assert not self._reader.done(), f"serve ended without {text!r}:\n{self.stderr}"
                await self._changed.wait()
        return line

    def signal(self, sig: signal.Signals = signal.SIGTERM) -> None:
        self.process.send_signal(sig)

    async def exit_code(self, timeout_s: float = 30.0) -> int:
        async with asyncio.timeout(timeout_s):
            code = await self.process.wait()
            await self._reader
        return code

    async def get(self, path: str) -> tuple[int, Any]:
        """GET a path of the local server without a token (the probes are open)."""
        async with self._http.get(self.base_url + path) as response:
            return response.status, orjson.loads(await response.read())

    async def api(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """(status, JSON) of a local API call, with the token from the data dir."""
        token = (self.data_dir / "api-token").read_text(encoding="utf-8").strip()
        async with self._http.request(
            method,
            self.base_url + path,
            headers={"Authorization": f"Bearer {token}"},
            data=orjson.dumps(body) if body is not None else None,
        ) as response:
            return response.status, orjson.loads(await response.read())

    async def wait_until(
        self, check: Callable[[], Any], timeout_s: float, what: str, poll_s: float = 0.02
    ) -> None:
        """Ask the child again until `check()` (an awaitable) holds; it is another process,
        so there is nothing to wait on but its answers."""
        await eventually(check, timeout_s, what, poll_s)

    async def close(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        await self._http.close()


async def start_serve(
    config: Path, *options: str, stdout: int = asyncio.subprocess.PIPE
) -> asyncio.subprocess.Process:
    """`voicecall-rt serve --config CONFIG OPTIONS…` as a child, its stderr piped."""
    return await asyncio.create_subprocess_exec(
        *cli_command(),
        "serve",
        "--config",
        str(config),
        *options,
        stdout=stdout,
        stderr=asyncio.subprocess.PIPE,
        env=cli_env(),
    )


def serve_settings(
    carrier: CarrierName,
    fake: FakeCarrier,
    model: FakeRealtimeServer,
    *,
    public_url: str,
    data_dir: Path,
    port: int,
) -> dict[str, Any]:
    """A child's settings (flat, dotted keys) against the fake carrier and the fake model."""
    return {
        "carrier": carrier,
        **fake_spec(carrier).settings(fake),
        "fromNumber": FROM_NUMBER,
        "publicUrl": public_url,
        "dataDir": str(data_dir),
        "openai.apiKey": API_KEY,
        "openai.realtimeUrl": model.realtime_url,
        "server.port": port,
    }


async def launch(
    config: Path,
    flat: Mapping[str, Any],
    *,
    carrier: FakeCarrier,
    model: FakeRealtimeServer,
) -> ServeProcess:
    """Write `flat` as the config at `config`, start `serve` with it and return once it
    listens with its signal handlers set; with `server.port` 0 its port is read from the
    line it prints then. The caller closes it."""
    text = json.dumps(_nest(dict(flat)))
    await asyncio.to_thread(config.write_text, text, encoding="utf-8")
    port = int(flat["server.port"])
    process = await start_serve(config, stdout=asyncio.subprocess.DEVNULL)
    serve = ServeProcess(
        process,
        base_url=f"http://127.0.0.1:{port}",
        data_dir=Path(flat["dataDir"]),
        config=config,
        carrier=carrier,
        model=model,
    )
    try:
        listening = await serve.wait_line("listening on")  # printed once the handlers are set
    except BaseException:
        await serve.close()
        raise
    if port == 0:
        found = re.search(r"listening on (http://\S+)", listening)
        assert found is not None, listening
        serve.base_url = found.group(1)
    return serve


@contextlib.asynccontextmanager
async def serve_process(
    tmp_path: Path,
    carrier: CarrierName,
    plans: Callable[[str], CallPlan] | CallPlan,
    script: ModelScript,
    settings: Mapping[str, Any] | None = None,
) -> AsyncIterator[ServeProcess]:
    """`async with serve_process(...) as serve:` once it listens with its signal handlers set;
    `settings` are flat dotted keys over the defaults. Killed on the way out if still up."""
    spec = fake_spec(carrier)
    port = free_port()
    fake = spec.make(
        FakeParams(
            plans=plans, from_number=FROM_NUMBER, answer_url=f"{PUBLIC}/voice/answer", options={}
        )
    )
    async with FakeRealtimeServer(script, api_key=API_KEY) as model:
        await fake.start()
        try:
            fake.route(PUBLIC, f"http://127.0.0.1:{port}")
            flat = serve_settings(
                carrier, fake, model, public_url=PUBLIC, data_dir=tmp_path / "data", port=port
            )
            serve = await launch(
                tmp_path / "config.json", {**flat, **(settings or {})}, carrier=fake, model=model
            )
            try:
                yield serve
            finally:
                await serve.close()
        finally:
            await fake.close()
