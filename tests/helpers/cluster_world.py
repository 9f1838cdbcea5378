"""Several real `voicecall-rt serve` processes on one PostgreSQL, as issue 13 runs them: each
its own instance id, its own public host (routed by the fake carrier's tunnel to its
loopback port), a lease of 3 s; the fake carrier (Twilio) and the fake model run in the
test process, and the number's webhook URL is a shared host the tunnel spreads round-robin
over the instances, as a load balancer would.

What a test asserts on is read from outside: the database over a connection of its own,
and what the fake carrier saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import asyncpg
from twilio.request_validator import SIGNATURE_HEADER
from yarl import URL

from tests.helpers.polling import eventually
from tests.helpers.serve_process import ServeProcess, launch, serve_settings
from voicecall_rt.simulator.fakes import FakeParams, fake_spec
from voicecall_rt.simulator.openai.server import FakeRealtimeServer
from voicecall_rt.simulator.scenario import (
    CalleeStep,
    CallPlan,
    CallTool,
    ModelAction,
    ModelScript,
    Pause,
    Say,
    Speak,
    WaitForModel,
)
from voicecall_rt.simulator.sim_call import SentWebhook, SimCall
from voicecall_rt.simulator.twilio.carrier import FakeTwilio
from voicecall_rt.simulator.world import API_KEY, FROM_NUMBER
from voicecall_rt.store.rows import ACTIVE_IN

LEASE_S = 3.0  # the shortest lease the config allows: crashes are noticed soonest
# Public IP literals (the child checks its publicUrl resolves to a public address, and a
# literal needs no DNS); nothing is ever sent to them, the tunnel delivers on loopback.
SHARED_PUBLIC = "https://93.184.215.20"  # the number's webhook URL, behind the balancer
_INSTANCE_PUBLIC = "https://93.184.215.{}"
OPEN_INBOUND = {"inbound.enabled": True, "inbound.policy": "open"}
TASK = "Ask whether the order shipped."
LINE_MS = 600  # how long each line of a scripted conversation is spoken

# A conversation: what the callee says, and what the model answers, in turn.
Exchanges = Sequence[tuple[str, str]]


def conversation(
    exchanges: Exchanges, *, model_hangs_up: bool, gap_ms: int = 0
) -> tuple[CallPlan, ModelScript]:
    """The callee says each first line and waits for the model's answer, `gap_ms` between
    exchanges; then stays on the line. With `model_hangs_up`, the model ends the call after
    its last answer."""
    callee: list[CalleeStep] = []
    turns: list[tuple[ModelAction, ...]] = []
    for said, answer in exchanges:
        if callee and gap_ms:
            callee.append(Pause(gap_ms))
        callee += [Speak(said, LINE_MS), WaitForModel()]
        turns.append((Say(answer, LINE_MS),))
    callee.append(Pause(60_000))
    if model_hangs_up:
        turns[-1] = (*turns[-1], CallTool("end_call", {"reason": "done"}))
    script = ModelScript(turns=tuple(turns), caller_transcripts=tuple(s for s, _ in exchanges))
    return CallPlan(ring_ms=200, callee=tuple(callee)), script


def lines_of(exchanges: Exchanges) -> list[tuple[str, str]]:
    """The transcript a conversation leaves: (role, text) in order."""
    return [line for s, a in exchanges for line in (("caller", s), ("assistant", a))]


class ClusterWorld:
    """The instances by name, the fake carrier and model they share, and the database."""

    def __init__(
        self,
        tmp_path: Path,
        pg_url: str,
        carrier: FakeTwilio,
        model: FakeRealtimeServer,
        settings: Mapping[str, Any],
    ) -> None:
        self.pg_url = pg_url
        self.carrier = carrier
        self.model = model
        self.instances: dict[str, ServeProcess] = {}
        self.public_urls: dict[str, str] = {}  # each instance's own public origin
        self._tmp_path = tmp_path
        self._settings = dict(settings)
        self._started = 0

    async def add(self, name: str) -> ServeProcess:
        """Start instance `name` (port 0) and route its public host to it; the shared
        inbound host is spread over every instance running."""
        self._started += 1
        public = _INSTANCE_PUBLIC.format(30 + self._started)
        root = self._tmp_path / name
        await asyncio.to_thread(root.mkdir)
        flat = {
            **serve_settings(
                "twilio",
                self.carrier,
                self.model,
                public_url=public,
                data_dir=root / "data",
                port=0,
            ),
            "store.url": self.pg_url,
            "server.instanceId": name,
            "server.leaseSeconds": LEASE_S,
            "inboundUrl": SHARED_PUBLIC,
            **self._settings,
        }
        serve = await launch(root / "config.json", flat, carrier=self.carrier, model=self.model)
        self.instances[name] = serve
        self.public_urls[name] = public
        self.carrier.route(public, serve.base_url)
        self._spread()
        return serve

    def _spread(self) -> None:
        running = [s.base_url for s in self.instances.values() if s.process.returncode is None]
        if running:
            self.carrier.spread(SHARED_PUBLIC, running)

    async def kill(self, name: str) -> None:
        """SIGKILL: the instance dies mid-whatever, nothing of it runs on."""
        serve = self.instances[name]
        serve.signal(signal.SIGKILL)
        await serve.exit_code()
        self._spread()

    # -- the local API -----------------------------------------------------------------

    async def place(self, name: str, to: str, task: str = TASK) -> tuple[int, Any]:
        """(status, JSON) of placing a call through instance `name`."""
        result: tuple[int, Any] = await self.instances[name].api(
            "POST", "/api/calls", {"to": to, "task": task}
        )
        return result

    async def redeliver(self, hook: SentWebhook, name: str) -> tuple[int, str]:
        """Send again, to instance `name`, a POST webhook the fake carrier sent (its signed
        URL, form and signature as they were): a carrier delivering twice, through a
        balancer that picked another instance or to the same one."""
        assert hook.method == "POST", hook
        public = urlsplit(hook.url)
        local = (
            self.instances[name].base_url
            + public.path
            + (f"?{public.query}" if public.query else "")
        )
        headers = {
            SIGNATURE_HEADER: hook.signature,
            "Host": public.netloc,
            "X-Forwarded-Proto": public.scheme,
            "X-Forwarded-Host": public.netloc,
        }
        async with (
            aiohttp.ClientSession() as http,
            http.post(URL(local, encoded=True), data=hook.params, headers=headers) as response,
        ):
            return response.status, await response.text()

    async def place_call(self, name: str, to: str) -> tuple[str, SimCall]:
        """Place a call through instance `name`: its id, and the call the carrier dials."""
        status, body = await self.place(name, to)
        assert status == 201, body
        return str(body["call"]["id"]), await self.carrier.wait_call()

    # -- the database, read from outside ---------------------------------------------------

    async def fetch(self, statement: str, *args: Any) -> list[asyncpg.Record]:
        """One statement on a connection of its own (the server may have restarted)."""
        conn = await asyncpg.connect(self.pg_url)
        try:
            return list(await conn.fetch(statement, *args))
        finally:
            await conn.close()

    async def call(self, call_id: str) -> asyncpg.Record:
        [row] = await self.fetch("SELECT * FROM calls WHERE id = $1", call_id)
        return row

    async def transcript(self, call_id: str) -> list[asyncpg.Record]:
        return await self.fetch(
            "SELECT seq, role, text FROM transcript WHERE call_id = $1 ORDER BY seq", call_id
        )

    async def events(self, call_id: str) -> list[asyncpg.Record]:
        return await self.fetch(
            "SELECT seq, kind, data FROM events WHERE call_id = $1 ORDER BY seq", call_id
        )

    async def spoken(self, call_id: str) -> list[tuple[str, str]]:
        """The stored lines of the callee and the model, (role, text) in order."""
        return [
            (row["role"], row["text"])
            for row in await self.transcript(call_id)
            if row["role"] in ("caller", "assistant")
        ]

    async def settled(self, call_id: str, timeout_s: float) -> asyncpg.Record:
        """The call's row once it has ended."""
        return await self.wait_call(
            call_id, lambda row: row["ended_at"] is not None, timeout_s, f"{call_id} settled"
        )

    async def live_calls(self) -> list[asyncpg.Record]:
        """The calls not settled yet, whoever owns them."""
        return await self.fetch(f"SELECT id, owner, status FROM calls WHERE status IN {ACTIVE_IN}")

    async def wait_call(
        self, call_id: str, holds: Callable[[asyncpg.Record], bool], timeout_s: float, what: str
    ) -> asyncpg.Record:
        """The call's row once `holds(row)`, asked again until the deadline."""

        async def check() -> bool:
            rows = await self.fetch("SELECT * FROM calls WHERE id = $1", call_id)
            return bool(rows) and holds(rows[0])

        await eventually(check, timeout_s, what, poll_s=0.1)
        return await self.call(call_id)

    async def call_id_for(self, call_sid: str, timeout_s: float = 10.0) -> str:
        """Our call id for the carrier's CallSid, once a row has it."""

        async def stored() -> bool:
            return bool(await self.fetch("SELECT 1 FROM calls WHERE carrier_sid = $1", call_sid))

        await eventually(stored, timeout_s, f"a call row for {call_sid}", poll_s=0.05)
        [row] = await self.fetch("SELECT id FROM calls WHERE carrier_sid = $1", call_sid)
        return str(row["id"])


@contextlib.asynccontextmanager
async def cluster_world(
    tmp_path: Path,
    pg_url: str,
    plans: Callable[[str], CallPlan] | CallPlan,
    script: ModelScript,
    names: tuple[str, ...] = ("a", "b"),
    settings: Mapping[str, Any] | None = None,
) -> AsyncIterator[ClusterWorld]:
    """`async with cluster_world(...) as world:` once every instance listens (started one
    after another: the first migrates the fresh database). `settings`: flat dotted keys
    every instance shares. On the way out the instances still up are killed, then the fake
    carrier hangs up what is left."""
    fake = fake_spec("twilio").make(
        FakeParams(
            plans=plans,
            from_number=FROM_NUMBER,
            answer_url=f"{SHARED_PUBLIC}/voice/answer",
            options={},
        )
    )
    assert isinstance(fake, FakeTwilio)
    async with FakeRealtimeServer(script, api_key=API_KEY) as model:
        await fake.start()
        world = ClusterWorld(tmp_path, pg_url, fake, model, settings or {})
        try:
            for name in names:
                await world.add(name)
            yield world
        finally:
            for serve in world.instances.values():
                await serve.close()
            await fake.close()
