"""A whole simulated world on loopback: fake carrier, fake model, and our real server.

Our server runs unmodified; only its outside URLs point at the simulators. The fake
carrier (Twilio by default, or any in `simulator.fakes`) plays the carrier *and* the
tunnel: it signs webhooks over the public URL and delivers them to the loopback server, as
a real tunnel would. The demo and the integration tests both stand on this.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiohttp
import orjson

from voicecall_rt.config import Settings
from voicecall_rt.config_carriers import CarrierName
from voicecall_rt.simulator.fakes import FakeCarrier, FakeParams, fake_spec
from voicecall_rt.simulator.openai.server import FakeRealtimeServer
from voicecall_rt.simulator.scenario import CallPlan, ModelScript
from voicecall_rt.simulator.signing import SharedKey
from voicecall_rt.web.app import Server

API_KEY = "sk-sim-offline"
FROM_NUMBER = "+14155550100"
PUBLIC_URL = "https://voice.voicecall-rt.test"
# The simulated tunnel's public address. Nothing is ever sent to it: the fake carrier
# delivers every request to the loopback server itself.
TUNNEL_ADDRESS = "93.184.215.14"


async def tunnel_resolver(host: str) -> list[str]:
    return [TUNNEL_ADDRESS]


def _nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for dotted, value in flat.items():
        node = nested
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested


class SimWorld:
    """`async with SimWorld(plans, script, data_dir) as world:` then place calls."""

    def __init__(
        self,
        plans: Callable[[str], CallPlan] | CallPlan,
        script: ModelScript,
        data_dir: Path,
        *,
        settings: Mapping[str, Any] | None = None,
        model_pace: float = 0.0,
        shared_key: SharedKey | None = None,
        carrier: CarrierName = "twilio",
    ) -> None:
        """`carrier`: which fake carrier, and the carrier our server is configured for.
        `shared_key` (Twilio only): the carrier signs webhooks with this SharedKey
        (Twilio's SHA-256 scheme) and our server is configured with its secret; None signs
        with the Auth Token, as by default."""
        self.model = FakeRealtimeServer(script, api_key=API_KEY, pace=model_pace)
        self.carrier_name: CarrierName = carrier
        self._spec = fake_spec(carrier)
        options = {"shared_key": shared_key} if shared_key is not None else {}
        self.carrier: FakeCarrier = self._spec.make(
            FakeParams(
                plans=plans,
                from_number=FROM_NUMBER,
                answer_url=f"{PUBLIC_URL}/voice/answer",
                options=options,
            )
        )
        self._data_dir = data_dir
        self._overrides = dict(settings or {})
        self._server: Server | None = None
        self._http: aiohttp.ClientSession | None = None

    @property
    def server(self) -> Server:
        assert self._server is not None, "world not started"
        return self._server

    async def __aenter__(self) -> Self:
        await self.model.start()
        await self.carrier.start()
        flat: dict[str, Any] = {
            "carrier": self.carrier_name,
            **self._spec.settings(self.carrier),
            "fromNumber": FROM_NUMBER,
            "openai.apiKey": API_KEY,
            "openai.realtimeUrl": self.model.realtime_url,
            "publicUrl": PUBLIC_URL,
            "server.port": 0,
            "dataDir": str(self._data_dir),
        }
        flat.update(self._overrides)
        settings = Settings.model_validate(_nest(flat))
        self._server = Server(settings, resolver=tunnel_resolver)
        await self._server.start()
        self.carrier.route(PUBLIC_URL, self._server.local_url)
        self._http = aiohttp.ClientSession()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._http is not None:
            await self._http.close()
        if self._server is not None:
            await self._server.stop()
        await self.carrier.close()
        await self.model.close()

    async def api(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        token: str | None = None,
    ) -> tuple[int, Any]:
        """Call our local API as the CLI would (bearer token from the data dir)."""
        assert self._http is not None
        headers = {
            "Authorization": f"Bearer {token if token is not None else self.server.api_token}"
        }
        async with self._http.request(
            method,
            self.server.local_url + path,
            headers=headers,
            data=orjson.dumps(body) if body is not None else None,
        ) as response:
            raw = await response.read()
            return response.status, orjson.loads(raw) if raw else None

    async def place(self, to: str, task: str, **extra: Any) -> str:
        status, data = await self.api("POST", "/api/calls", {"to": to, "task": task, **extra})
        if status != 201:
            raise AssertionError(f"placing the call failed: {status} {data}")
        call_id: str = data["call"]["id"]
        return call_id

    async def wait_call(self, call_id: str, timeout_s: float = 30.0) -> dict[str, Any]:
        """The call once settled (its record, transcript and events, as the API gives them)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            # The API long-polls for at most a minute at a time, like `call --wait` we ask again.
            wait = max(0.0, min(60.0, deadline - loop.time()))
            status, data = await self.api("GET", f"/api/calls/{call_id}?wait={wait:.3f}")
            if status != 200:
                raise AssertionError(f"reading the call failed: {status} {data}")
            if not data["active"]:
                result: dict[str, Any] = data
                return result
            if loop.time() >= deadline:
                raise TimeoutError(
                    f"call {call_id} still active after {timeout_s}s: {data['call']}"
                )
