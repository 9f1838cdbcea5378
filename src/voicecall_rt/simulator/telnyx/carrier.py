"""`FakeTelnyx`: the fake Telnyx's knobs, records and each call's lifecycle (see the package
docstring, `simulator.telnyx`, for what it plays and how strict it is).

An outbound call: dialled over REST (`call.initiated`), rings, is answered (`call.answered`,
and the stream the dial asked for opens), may get answering-machine verdicts, and ends
(`call.hangup` with its cause). An inbound call: `call.initiated` (incoming) to the
application's URL, then whatever action our server takes (answer with a stream, reject,
hang up).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import web

from voicecall_rt.audio import dtmf
from voicecall_rt.simulator.scenario import CallPlan
from voicecall_rt.simulator.sim_call import (
    CallConfig,
    CallDirection,
    SentWebhook,
    SimCall,
    TransferDial,
    WebhookKind,
)
from voicecall_rt.simulator.tasks import TaskSet, cancel_and_wait
from voicecall_rt.simulator.telnyx.leg import (
    HANGUP_CAUSE,
    Leg,
    amd_result,
    event_payload,
    greeting_ended,
    new_call_control_id,
)
from voicecall_rt.simulator.telnyx.media_stream import StreamRequest, TelnyxMediaStream
from voicecall_rt.simulator.telnyx.rest import TelnyxRestApi, TelnyxRestError, invalid
from voicecall_rt.simulator.telnyx.transfer_leg import TransferLegPlan, run_leg
from voicecall_rt.simulator.telnyx.webhooks import TelnyxWebhookClient, Webhook
from voicecall_rt.simulator.tunnel import Tunnel

__all__ = ["FakeTelnyx"]

logger = logging.getLogger(__name__)


class FakeTelnyx:
    """Telnyx's Call Control REST API, webhooks and media streams on loopback.

    Failure injection (plain attributes, read when used): `bad_signature` signs with a key
    that is not the account's; `clock_skew_s` shifts `telnyx-timestamp`.
    """

    def __init__(
        self,
        *,
        api_key: str,
        connection_id: str,
        tunnel: dict[str, str],
        plans: Callable[[str], CallPlan] | CallPlan,
        owned_numbers: tuple[str, ...] = (),
        connection_webhook_url: str | None = None,
        host: str = "127.0.0.1",
        ring_delay_ms: int = 20,
        webhook_timeout_s: float = 15.0,
        detect_dtmf: bool = True,
        leg_codec: str = "PCMA",
    ) -> None:
        self.connection_id = connection_id
        self.owned_numbers = owned_numbers
        self.connection_webhook_url = connection_webhook_url
        self._plans = plans
        self._host = host
        self.ring_delay_ms = ring_delay_ms
        self.webhook_timeout_s = webhook_timeout_s
        self.detect_dtmf = detect_dtmf
        self.leg_codec = leg_codec
        self.bad_signature = False
        # Destinations the account's outbound voice profile does not allow: a transfer to
        # one is refused (403), as Telnyx refuses a number its profile does not cover.
        self.refused_destinations: frozenset[str] = frozenset()
        # What becomes of the person a transfer dials, by number (default: answers, talks,
        # hangs up); `keep_caller_after_transfer` leaves the caller's leg up once they hang
        # up, as `park_after_unbridge=self` would: only our server's hang-up ends it.
        self.transfer_plans: dict[str, TransferLegPlan] = {}
        self.keep_caller_after_transfer = False
        self.clock_skew_s = 0
        # what happened
        self.calls: dict[str, SimCall] = {}
        self.legs: dict[str, Leg] = {}
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.webhooks: list[SentWebhook] = []
        # machinery
        self._new_calls: asyncio.Queue[SimCall] = asyncio.Queue()
        self._tasks = TaskSet()
        self._tunnel = Tunnel(tunnel)
        self._client = TelnyxWebhookClient(
            settings=self, tunnel=self._tunnel, spawn=self._tasks.spawn
        )
        self._rest = TelnyxRestApi(self, api_key=api_key)
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self._closing = False
        self._closed = asyncio.Event()

    # -- start / close --------------------------------------------------------------------

    @property
    def api_base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("FakeTelnyx is not started")
        return self._base_url

    async def start(self) -> None:
        if self._closing:
            raise RuntimeError("FakeTelnyx is closed; make a new one")
        if self._runner is not None:
            return
        self._client.open()
        runner = web.AppRunner(self._rest.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self._host, 0)
        await site.start()
        self._runner = runner
        self._base_url = f"http://{self._host}:{runner.addresses[0][1]}/v2"

    async def close(self) -> None:
        """Hang up every call (stop, close, `call.hangup`), then stop the servers. Idempotent."""
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
                call.ended.set()
            await self._client.close()
            if self._runner is not None:
                await self._runner.cleanup()
        finally:
            self._closed.set()

    async def wait_call(self, timeout: float = 10.0) -> SimCall:  # noqa: ASYNC109 - test API
        async with asyncio.timeout(timeout):
            return await self._new_calls.get()

    def route(self, public_origin: str, local_base: str) -> None:
        self._tunnel.route(public_origin, local_base)

    async def place_inbound_call(
        self, *, from_number: str, to_number: str, plan: CallPlan
    ) -> SimCall:
        """Someone dials one of our numbers: `call.initiated` (incoming) goes to the
        application's webhook URL; our server's actions do the rest. Returns at once."""
        if self.connection_webhook_url is None:
            raise RuntimeError("FakeTelnyx needs connection_webhook_url= for inbound calls")
        if not self._client.started or self._closing:
            raise RuntimeError("FakeTelnyx is not running")
        if self.owned_numbers and to_number not in self.owned_numbers:
            raise ValueError(f"{to_number} is not one of this account's numbers")
        leg = Leg(self.connection_webhook_url, None, None, None)
        call = self._new_call(to_number, from_number, "inbound", plan, leg, {})
        call.status = "ringing"
        call.statuses.append("ringing")
        self._event(call, "voice", "call.initiated", direction="incoming", state="parked")
        return call

    # -- what the REST API asks (`rest.CallControl`) -----------------------------------------

    def find(self, call_control_id: str) -> SimCall | None:
        return self.calls.get(call_control_id)

    def dial(self, body: dict[str, Any]) -> SimCall:
        to = body["to"]
        plan = self._plans if isinstance(self._plans, CallPlan) else self._plans(to)
        amd = body.get("answering_machine_detection")
        leg = Leg(
            webhook_url=body.get("webhook_url") or self.connection_webhook_url or "",
            client_state=body.get("client_state"),
            stream=StreamRequest.of(body),
            amd=amd if amd != "disabled" else None,
        )
        call = self._new_call(to, body["from"], "outbound-api", plan, leg, body)
        call.config.timeout_s = body.get("timeout_secs", 30)
        call.config.time_limit_s = body.get("time_limit_secs", 14_400)
        call.config.machine_detection = leg.amd
        call.runner = self._spawn_guarded(call, self._run_outbound(call))
        return call

    async def act(self, call: SimCall, action: str, body: dict[str, Any]) -> None:
        leg = self.legs[call.sid]
        before = leg.client_state
        if "client_state" in body:
            leg.client_state = body["client_state"]
        try:
            await self._carry_out(call, leg, action, body)
        except TelnyxRestError:
            leg.client_state = before  # a refused command changes nothing
            raise

    async def _carry_out(self, call: SimCall, leg: Leg, action: str, body: dict[str, Any]) -> None:
        if action == "hangup":
            call.rest_hang_ups.append("completed")
            self.end_call(call, "completed" if call.answered else "canceled")
        elif action == "answer":
            if call.direction != "inbound" or call.answered:
                raise TelnyxRestError(422, "90015", "Call is not waiting to be answered")
            leg.stream = StreamRequest.of(body)
            leg.webhook_url = body.get("webhook_url") or leg.webhook_url
            await self._answer(call)
        elif action == "reject":
            if call.direction != "inbound" or call.answered:
                raise TelnyxRestError(
                    422, "90015", "Only an unanswered inbound call can be rejected"
                )
            busy = body["cause"] == "USER_BUSY"
            self.end_call(call, "busy" if busy else "failed")
        elif action == "send_dtmf":
            stream = call.stream
            if not call.answered or not isinstance(stream, TelnyxMediaStream):
                raise invalid("digits", "the call has no answered media to play digits on")
            digits = body["digits"].replace("W", "ww")
            tones = dtmf.tone_audio(digits, on_ms=body.get("duration_millis", 250))
            stream.play_tones(tones)
        elif action == "transfer":
            self._transfer(call, body)
        elif action == "speak":
            call.said.append(body["payload"])
            self._event(call, "status", "call.speak.started")
            self._event(call, "status", "call.speak.ended", status="completed")

    def _transfer(self, call: SimCall, body: dict[str, Any]) -> None:
        """Call Control's `transfer`: an answered call is bridged to `to`, shown `from` (by
        default the call's own `to`): a number of the account, or an inbound call's own
        caller (Telnyx keeps the original caller on a transferred inbound call); anything
        else is refused. Leg B is then played from `transfer_plans` (`transfer_leg`)."""
        if not call.answered:
            raise TelnyxRestError(422, "90015", "Call is not answered")
        inbound = call.direction == "inbound"
        ours = call.to if inbound else call.from_
        caller_id = body.get("from") or ours
        allowed = {*self.owned_numbers, ours, *([call.from_] if inbound else [])}
        if caller_id not in allowed:
            raise invalid("from", "from must be a number of this account or the caller")
        if body["to"] in self.refused_destinations:
            raise TelnyxRestError(403, "10010", "Destination not allowed by the voice profile")
        call.transfers.append(TransferDial(body["to"], caller_id, call.played_bytes))
        leg = Leg(
            webhook_url=body.get("webhook_url") or self.connection_webhook_url or "",
            client_state=body.get("target_leg_client_state"),
            stream=None,
            amd=None,
        )
        b = self._new_call(body["to"], caller_id, "outbound-api", CallPlan(), leg, body, False)
        b.config.timeout_s = body.get("timeout_secs", 30)
        parks = body.get("park_after_unbridge") == "self" or self.keep_caller_after_transfer
        plan = self.transfer_plans.get(body["to"], TransferLegPlan())
        run = run_leg(call, b, plan, parks=parks, event=self._event, end_call=self.end_call)
        b.runner = self._spawn_guarded(b, run)

    # -- the lifecycle ------------------------------------------------------------------------

    def end_call(self, call: SimCall, final: str, cause: str | None = None) -> asyncio.Task[None]:
        """End the call with `final` (first caller wins); the teardown runs in its own task."""
        if call.teardown is None:
            call.mark_ended(final)
            self.legs[call.sid].hangup_cause = cause or HANGUP_CAUSE.get(final, "unspecified")
            call.teardown = self._tasks.spawn(self._teardown(call), f"fake-telnyx-end-{call.sid}")
        return call.teardown

    def _new_call(
        self,
        to: str,
        from_: str,
        direction: CallDirection,
        plan: CallPlan,
        leg: Leg,
        params: dict[str, Any],
        announce: bool = True,
    ) -> SimCall:
        """A call of the account; `announce`: `wait_call` returns it (not a transfer's leg)."""
        call = SimCall(
            sid=new_call_control_id(),
            to=to,
            from_=from_,
            direction=direction,
            plan=plan,
            config=CallConfig(url=leg.webhook_url),
            create_params={k: [str(v)] for k, v in params.items()},
            end=self._end,
        )
        self.calls[call.sid] = call
        self.legs[call.sid] = leg
        self._client.open_outbox(call)
        if announce:
            self._new_calls.put_nowait(call)
        return call

    def _event(self, call: SimCall, kind: WebhookKind, event_type: str, **extra: Any) -> None:
        url = self.legs[call.sid].webhook_url
        if url:
            payload = event_payload(call, self.legs[call.sid], self.connection_id, **extra)
            self._client.enqueue(call, Webhook(kind, url, event_type, payload))

    def _spawn_guarded(self, call: SimCall, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        return self._tasks.spawn(self._guard(call, work), f"fake-telnyx-call-{call.sid}")

    async def _guard(self, call: SimCall, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except Exception:
            logger.exception("fake Telnyx: the lifecycle crashed for %s", call.sid)
            call.errors.append("lifecycle crashed")
            self.end_call(call, "completed" if call.answered else "failed")

    async def _end(self, call: SimCall, final: str) -> None:
        await asyncio.shield(self.end_call(call, final))

    async def _run_outbound(self, call: SimCall) -> None:
        plan, config = call.plan, call.config
        await call.set_status("initiated")
        self._event(call, "status", "call.initiated", direction="outgoing", state="bridging")
        await asyncio.sleep(self.ring_delay_ms / 1000)
        await call.set_status("ringing")
        ring_s = plan.ring_ms / 1000
        if plan.answer != "answer" or ring_s >= config.timeout_s:
            await asyncio.sleep(min(ring_s, config.timeout_s))
            self.end_call(call, plan.answer if plan.answer != "answer" else "no-answer")
            return
        await asyncio.sleep(ring_s)
        await self._answer(call)

    async def _answer(self, call: SimCall) -> None:
        call.mark_answered()
        await call.set_status("in-progress")
        self._event(call, "status", "call.answered", state="answered")
        limit = call.config.time_limit_s
        if limit is not None:
            call.time_limit = self._tasks.spawn(
                self._time_limit(call, limit), f"fake-telnyx-timelimit-{call.sid}"
            )
        leg = self.legs[call.sid]
        if leg.amd is not None and call.plan.answered_by is not None:
            call.amd = self._tasks.spawn(self._detect(call), f"fake-telnyx-amd-{call.sid}")
        if leg.stream is not None:
            stream = TelnyxMediaStream(
                call,
                leg.stream,
                client=self._client,
                spawn=self._tasks.spawn,
                hang_up=lambda: self.end_call(call, "completed"),
                leg_codec=self.leg_codec,
                detect_dtmf=self.detect_dtmf,
            )
            call.stream = stream
            self._tasks.spawn(stream.run(), f"fake-telnyx-stream-{call.sid}")

    async def _time_limit(self, call: SimCall, limit_s: int) -> None:
        await asyncio.sleep(limit_s)
        self.end_call(call, "completed", "time_limit")

    async def _detect(self, call: SimCall) -> None:
        """The plan's verdict (Twilio's words: human, machine_end_beep, …) as Telnyx's."""
        await asyncio.sleep(call.plan.amd_delay_ms / 1000)
        verdict = call.plan.answered_by or ""
        result = amd_result(verdict)
        call.answered_by = result
        self._event(call, "amd", "call.machine.detection.ended", result=result)
        if greeting_ended(verdict, self.legs[call.sid].amd):
            self._event(call, "amd", "call.machine.greeting.ended", result="beep_detected")
        await call.changed()

    async def _teardown(self, call: SimCall) -> None:
        await call.changed()
        await cancel_and_wait(call.runner, call.time_limit, call.amd)
        if call.stream is not None:
            await call.stream.shutdown()
        leg = self.legs[call.sid]
        self._event(call, "status", "call.hangup", hangup_cause=leg.hangup_cause, state="hangup")
        await self._client.close_outbox(call)
        call.ended.set()
        await call.changed()
