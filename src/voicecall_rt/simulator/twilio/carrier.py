"""`FakeTwilio`: the fake carrier's knobs, records and each call's lifecycle (see the package
docstring, `simulator.twilio`, for what it plays and how strict it is).

A call goes queued → initiated → ringing → in-progress (answered) → a final status; the
carrier's parts move it on through the small interface below (`dial`, `answer`, `end_call`,
`arm_time_limit`, `redirect`), never through each other's insides.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, Final

from aiohttp import web

from voicecall_rt.simulator.scenario import CallPlan
from voicecall_rt.simulator.signing import SharedKey
from voicecall_rt.simulator.sim_call import CallConfig, CallDirection, SentWebhook, SimCall
from voicecall_rt.simulator.tasks import TaskSet, cancel_and_wait
from voicecall_rt.simulator.tunnel import Tunnel
from voicecall_rt.simulator.twilio.dialect import TWILIO, Dialect
from voicecall_rt.simulator.twilio.rest import CallUpdate, RestApi, RestRequest
from voicecall_rt.simulator.twilio.twiml import TwimlInterpreter
from voicecall_rt.simulator.twilio.webhooks import Webhook, WebhookClient

__all__ = ["DEFAULT_MAX_TIME_LIMIT_S", "FakeTwilio"]

logger = logging.getLogger(__name__)

# Twilio's default call limit is 4 h (its "Configurable Call Limits" announcement, 2021:
# per-call TimeLimit from 1 minute up to the account's limit, which can be raised to 24 h).
# Which code Twilio answers a TimeLimit above the account's limit with is not documented
# anywhere we could find (21626 did not turn up in Twilio's error list), nor whether it
# refuses rather than caps it; the fake refuses with its catch-all code, so a server that
# asks for more than the limit finds out before a real account does.
DEFAULT_MAX_TIME_LIMIT_S: Final = 14_400


class FakeTwilio:
    """Twilio's REST API, webhooks and Media Streams on loopback (see `simulator.twilio`).

    Signing: with the Auth Token (HMAC-SHA1) unless `shared_key` is set, then with that
    SharedKey and its algorithm (HMAC-SHA256 by default), announced by
    `X-Twilio-Webhooks-Signature-Settings`, for every webhook and the stream's upgrade.

    Strictness (plain attributes, read when used; defaults behave like Twilio, see the package
    docstring): `allow_ws_stream`, `keep_stream_query`, `stay_up_after_stream` relax it;
    `max_time_limit_s` is the account's call limit.

    Failure injection (plain attributes, read when used): `bad_signature` signs everything
    with a wrong secret (under whichever scheme); `start_token_override` replaces
    `call_token` in `start`'s customParameters; `delay_start_ms` waits that long between
    `connected` and `start`.
    """

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        tunnel: dict[str, str],
        plans: Callable[[str], CallPlan] | CallPlan,
        owned_numbers: tuple[str, ...] = (),
        voice_url: str | None = None,
        status_callback: str | None = None,
        friendly_name: str = "voicecall_rt simulator",
        host: str = "127.0.0.1",
        port: int = 0,
        ring_delay_ms: int = 20,
        webhook_timeout_s: float = 15.0,
        detect_dtmf: bool = True,
        bad_signature: bool = False,
        start_token_override: str | None = None,
        delay_start_ms: int = 0,
        shared_key: SharedKey | None = None,
        allow_ws_stream: bool = False,
        keep_stream_query: bool = False,
        stay_up_after_stream: bool = False,
        max_time_limit_s: int = DEFAULT_MAX_TIME_LIMIT_S,
        dialect: Dialect = TWILIO,
        signing_key: str | None = None,
    ) -> None:
        """`dialect`: which Twilio-compatible carrier it plays (`simulator.twilio.dialect`);
        `signing_key`: what webhooks are signed with, if not the Auth Token (SignalWire's
        Signing Key)."""
        self.account_sid = account_sid
        self.dialect = dialect
        self._plans = plans
        self.owned_numbers = owned_numbers
        self.voice_url = voice_url
        self.status_callback = status_callback
        self.friendly_name = friendly_name
        self._host = host
        self._port = port
        self.ring_delay_ms = ring_delay_ms
        self.webhook_timeout_s = webhook_timeout_s
        self.detect_dtmf = detect_dtmf
        self.bad_signature = bad_signature
        self.start_token_override = start_token_override
        self.delay_start_ms = delay_start_ms
        self.shared_key = shared_key
        self.allow_ws_stream = allow_ws_stream
        self.keep_stream_query = keep_stream_query
        self.stay_up_after_stream = stay_up_after_stream
        self.max_time_limit_s = max_time_limit_s
        # what happened
        self.calls: dict[str, SimCall] = {}
        self.created: list[dict[str, list[str]]] = []
        self.updates: list[CallUpdate] = []
        self.requests: list[RestRequest] = []
        self.webhooks: list[SentWebhook] = []
        # machinery
        self._new_calls: asyncio.Queue[SimCall] = asyncio.Queue()
        self._tasks = TaskSet()
        self._tunnel = Tunnel(tunnel)
        self._client = WebhookClient(
            account_sid=account_sid,
            auth_token=auth_token if signing_key is None else signing_key,
            settings=self,
            tunnel=self._tunnel,
            spawn=self._tasks.spawn,
            dialect=dialect,
        )
        self._rest = RestApi(self, auth_token=auth_token)
        self._twiml = TwimlInterpreter(self, self._client, spawn=self._tasks.spawn)
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self._closing = False
        self._closed = asyncio.Event()

    # -- start / close --------------------------------------------------------------------

    @property
    def api_base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("FakeTwilio is not started")
        return self._base_url

    @property
    def closing(self) -> bool:
        return self._closing

    async def start(self) -> None:
        if self._closing:
            raise RuntimeError("FakeTwilio is closed; make a new one")
        if self._runner is not None:
            return
        self._client.open()
        runner = web.AppRunner(self._rest.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        await site.start()
        self._runner = runner
        address = runner.addresses[0]
        self._base_url = f"http://{self._host}:{address[1]}"
        logger.info("fake %s REST at %s", self.dialect.name, self._base_url)

    async def close(self) -> None:
        """Hang up every call (stop + close + callbacks), then stop the servers. Idempotent."""
        if self._closing:
            await self._closed.wait()
            return
        self._closing = True
        try:
            endings = [
                self.end_call(call, "completed" if call.answered else "canceled")
                for call in self.calls.values()
                if not call.ended.is_set()
            ]
            if endings:
                await asyncio.wait(endings, timeout=5.0)
            await self._tasks.cancel_all()
            for call in self.calls.values():
                if not call.ended.is_set():
                    logger.warning("fake carrier: %s did not finish hanging up in time", call.sid)
                    call.ended.set()
            await self._client.close()
            if self._runner is not None:
                await self._runner.cleanup()
        finally:
            self._closed.set()

    async def __aenter__(self) -> FakeTwilio:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def wait_call(self, timeout: float = 10.0) -> SimCall:  # noqa: ASYNC109 - test API
        """The next call created (outbound via REST or inbound), in creation order."""
        async with asyncio.timeout(timeout):
            return await self._new_calls.get()

    def route(self, public_origin: str, local_base: str) -> None:
        """Add or replace a tunnel mapping (e.g. once our server knows its port)."""
        self._tunnel.route(public_origin, local_base)

    def spread(self, public_origin: str, local_bases: list[str]) -> None:
        """Deliver what is sent to `public_origin` to each of `local_bases` in turn (a load
        balancer in front of several instances)."""
        self._tunnel.spread(public_origin, local_bases)

    async def place_inbound_call(
        self, *, from_number: str, to_number: str, plan: CallPlan
    ) -> SimCall:
        """Someone dials one of our numbers: the voice URL is requested (signed) and its TwiML
        followed. Returns at once; follow the call through the SimCall."""
        if self.voice_url is None:
            raise RuntimeError("FakeTwilio needs voice_url= for inbound calls")
        if not self._client.started:
            raise RuntimeError("FakeTwilio is not started")
        if self._closing:
            raise RuntimeError("FakeTwilio is closed")
        if self.owned_numbers and to_number not in self.owned_numbers:
            raise ValueError(f"{to_number} is not one of this account's numbers")
        config = CallConfig(url=self.voice_url, status_callback=self.status_callback)
        call = self._new_call(to_number, from_number, "inbound", plan, config, {})
        call.status = "ringing"
        call.statuses.append("ringing")
        self._register(call)
        inbound = self._twiml.run(call, config.url, None)
        call.runner = self._spawn_guarded(call, inbound, "inbound call", "call")
        return call

    # -- the parts' interface (rest, twiml, media_stream) ---------------------------------------

    def dial(
        self, to: str, from_: str, config: CallConfig, params: dict[str, list[str]]
    ) -> SimCall:
        """A call created over REST: register it and start dialling."""
        plan = self._plans if isinstance(self._plans, CallPlan) else self._plans(to)
        call = self._new_call(to, from_, "outbound-api", plan, config, params)
        self._register(call)
        call.runner = self._spawn_guarded(call, self._run_outbound(call), "outbound call", "call")
        return call

    async def answer(self, call: SimCall) -> None:
        if call.answered or call.is_final:
            return
        call.mark_answered()
        await call.set_status("in-progress")
        self._status_event(call, "answered", "in-progress")
        self.arm_time_limit(call)

    def end_call(self, call: SimCall, final: str) -> asyncio.Task[None]:
        """End the call with `final` (first caller wins); the teardown runs in its own task."""
        if call.teardown is None:
            call.mark_ended(final)
            call.teardown = self._tasks.spawn(
                self._teardown(call, final), f"fake-twilio-end-{call.sid}"
            )
        return call.teardown

    def arm_time_limit(self, call: SimCall) -> None:
        """(Re)start the call's TimeLimit clock from its answer."""
        if call.time_limit is not None:
            call.time_limit.cancel()
            call.time_limit = None
        limit = call.config.time_limit_s
        answered_at = call.answered_at
        if limit is None or answered_at is None or call.is_final:
            return
        call.time_limit = self._tasks.spawn(
            self._time_limit_at(call, answered_at + limit), f"fake-twilio-timelimit-{call.sid}"
        )

    def redirect(self, call: SimCall, url: str | None, twiml: str | None) -> None:
        """REST update with Url/Twiml: the running TwiML (and any stream) stops, new TwiML runs."""
        work = self._twiml.redirect(call, call.runner, url, twiml)
        call.runner = self._spawn_guarded(call, work, "redirect", "redirect")

    def _status_event(self, call: SimCall, event: str, status: str) -> None:
        """A status callback for `event`, if our server asked for it (docs/protocols.md §4.2)."""
        self._client.status_event(call, event, status)

    # -- the lifecycle ------------------------------------------------------------------------

    def _new_call(
        self,
        to: str,
        from_: str,
        direction: CallDirection,
        plan: CallPlan,
        config: CallConfig,
        params: dict[str, list[str]],
    ) -> SimCall:
        return SimCall(
            sid=self.dialect.call_sid(),
            to=to,
            from_=from_,
            direction=direction,
            plan=plan,
            config=config,
            create_params=params,
            end=self._end,
        )

    def _register(self, call: SimCall) -> None:
        self.calls[call.sid] = call
        self._client.open_outbox(call)
        self._new_calls.put_nowait(call)

    def _spawn_guarded(
        self, call: SimCall, work: Coroutine[Any, Any, None], what: str, task: str
    ) -> asyncio.Task[None]:
        return self._tasks.spawn(self._guard(call, work, what), f"fake-twilio-{task}-{call.sid}")

    async def _guard(self, call: SimCall, work: Coroutine[Any, Any, None], what: str) -> None:
        """Task boundary for a call's TwiML/lifecycle work: a crash ends the call."""
        try:
            await work
        except Exception:
            logger.exception("fake carrier: %s crashed for %s", what, call.sid)
            call.errors.append(f"{what} crashed")
            self.end_call(call, "completed" if call.answered else "failed")

    async def _time_limit_at(self, call: SimCall, deadline: float) -> None:
        await asyncio.sleep(max(0.0, deadline - asyncio.get_running_loop().time()))
        logger.info("fake carrier: %s reached its TimeLimit", call.sid)
        self.end_call(call, "completed")

    async def _end(self, call: SimCall, final: str) -> None:
        await asyncio.shield(self.end_call(call, final))

    async def _teardown(self, call: SimCall, final: str) -> None:
        await call.changed()
        await cancel_and_wait(call.runner, call.time_limit, call.amd)
        if call.stream is not None:
            await call.stream.shutdown()
        self._status_event(call, "completed", final)
        await self._client.close_outbox(call)
        call.ended.set()
        await call.changed()
        logger.info("fake carrier: %s ended %s", call.sid, final)

    async def _run_outbound(self, call: SimCall) -> None:
        config, plan = call.config, call.plan
        await call.set_status("initiated")
        self._status_event(call, "initiated", "initiated")
        await asyncio.sleep(self.ring_delay_ms / 1000)
        await call.set_status("ringing")
        self._status_event(call, "ringing", "ringing")
        ring_s = plan.ring_ms / 1000
        if plan.answer != "answer" or ring_s >= config.timeout_s:
            await asyncio.sleep(min(ring_s, config.timeout_s))
            self.end_call(call, plan.answer if plan.answer != "answer" else "no-answer")
            return
        await asyncio.sleep(ring_s)
        await self.answer(call)
        if config.machine_detection is not None:
            verdict = plan.answered_by
            if not config.async_amd:
                # Synchronous AMD: the answer URL waits for the verdict and carries it.
                await asyncio.sleep(plan.amd_delay_ms / 1000)
                call.answered_by = verdict or "unknown"
            elif verdict is not None and config.amd_callback is not None:
                call.amd = self._tasks.spawn(
                    self._amd_later(call, verdict), f"fake-twilio-amd-{call.sid}"
                )
        await self._twiml.run(call, config.url, config.twiml)

    async def _amd_later(self, call: SimCall, verdict: str) -> None:
        config = call.config
        await asyncio.sleep(call.plan.amd_delay_ms / 1000)
        assert config.amd_callback is not None
        call.answered_by = verdict
        params = {
            "AccountSid": self.account_sid,
            "AnsweredBy": verdict,
            "CallSid": call.sid,
            "MachineDetectionDuration": str(call.plan.amd_delay_ms),
        }
        self._client.enqueue(call, Webhook("amd", config.amd_callback, config.amd_method, params))
        await call.changed()
