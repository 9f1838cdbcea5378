"""`FakePlivo`: the fake carrier's knobs, records and each call's lifecycle (see the package
docstring, `simulator.plivo`).

An outbound call: the dial answers a request uuid at once; the call gets its CallUUID and
rings (`ring_url`), is answered (the answer URL's XML is fetched and run; asynchronous
machine detection posts its verdict later) or not, and ends with the `hangup_url` callback.
Its `SimCall.sid` is the CallUUID; `requests` maps each request uuid to its call.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any

from aiohttp import web

from voicecall_rt.simulator.plivo.rest import RestApi
from voicecall_rt.simulator.plivo.webhooks import WebhookClient
from voicecall_rt.simulator.plivo.xml import XmlInterpreter
from voicecall_rt.simulator.scenario import CallPlan
from voicecall_rt.simulator.sim_call import CallConfig, CallDirection, SentWebhook, SimCall
from voicecall_rt.simulator.tasks import TaskSet, cancel_and_wait
from voicecall_rt.simulator.tunnel import Tunnel

__all__ = ["FakePlivo"]

logger = logging.getLogger(__name__)

# A call's final status (`SimCall`'s words) as Plivo's hangup callback says it:
# its `CallStatus` and `HangupCause`.
HANGUP = {
    "completed": ("completed", "NORMAL_CLEARING"),
    "busy": ("busy", "USER_BUSY"),
    "no-answer": ("no-answer", "NO_ANSWER"),
    "failed": ("failed", "UNALLOCATED_NUMBER"),
    "canceled": ("cancel", "ORIGINATOR_CANCEL"),
}


def _digits(number: str) -> str:
    return number.lstrip("+")


class FakePlivo:
    """Plivo's REST API, V3-signed webhooks and Audio Streams on loopback.

    Failure injection (plain attributes, read when used): `bad_signature` signs every
    webhook with a wrong token."""

    def __init__(
        self,
        *,
        auth_id: str,
        auth_token: str,
        plans: Callable[[str], CallPlan] | CallPlan,
        owned_numbers: tuple[str, ...] = (),
        answer_url: str | None = None,
        host: str = "127.0.0.1",
        ring_delay_ms: int = 20,
        detect_dtmf: bool = True,
        bad_signature: bool = False,
    ) -> None:
        self.auth_id = auth_id
        self._plans = plans
        self.owned_numbers = owned_numbers
        self.answer_url = answer_url  # the number's application, for inbound calls
        self._host = host
        self.ring_delay_ms = ring_delay_ms
        self.detect_dtmf = detect_dtmf
        self.bad_signature = bad_signature
        # what happened
        self.calls: dict[str, SimCall] = {}
        self.requests: dict[str, SimCall] = {}  # request uuid → call
        self.webhooks: list[SentWebhook] = []
        self.rest_log: list[tuple[str, str, int]] = []
        self.created: list[dict[str, Any]] = []  # each dial's JSON body, as sent
        self.digits_sent: list[tuple[str, str]] = []  # (CallUUID, digits) by REST
        # machinery
        self._request_of: dict[str, str] = {}  # CallUUID → request uuid
        self._ring_urls: dict[str, str | None] = {}
        self._new_calls: asyncio.Queue[SimCall] = asyncio.Queue()
        self._tasks = TaskSet()
        self._tunnel = Tunnel({})
        self._client = WebhookClient(
            auth_token=auth_token, settings=self, tunnel=self._tunnel, spawn=self._tasks.spawn
        )
        self._rest = RestApi(self, auth_token=auth_token)
        self._xml = XmlInterpreter(self, self._client, spawn=self._tasks.spawn)
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self._closing = False

    # -- start / close --------------------------------------------------------------------

    @property
    def api_base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("FakePlivo is not started")
        return self._base_url

    @property
    def closing(self) -> bool:
        return self._closing

    async def start(self) -> None:
        if self._runner is not None:
            return
        self._client.open()
        runner = web.AppRunner(self._rest.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self._host, 0)
        await site.start()
        self._runner = runner
        self._base_url = f"http://{self._host}:{runner.addresses[0][1]}"

    async def close(self) -> None:
        """Hang up every call, then stop the servers. Idempotent."""
        if self._closing:
            return
        self._closing = True
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

    async def __aenter__(self) -> FakePlivo:
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
        async with asyncio.timeout(timeout):
            return await self._new_calls.get()

    def route(self, public_origin: str, local_base: str) -> None:
        self._tunnel.route(public_origin, local_base)

    def request_uuid(self, call: SimCall) -> str:
        """The request uuid the dial of `call` answered ("" for an inbound call)."""
        return self._request_of.get(call.sid, "")

    async def place_inbound_call(
        self, *, from_number: str, to_number: str, plan: CallPlan
    ) -> SimCall:
        """Someone dials one of our numbers: its application's answer URL is fetched
        (signed) and the XML run. Returns at once."""
        if self.answer_url is None or not self._client.started or self._closing:
            raise RuntimeError("FakePlivo needs answer_url= and to be started")
        if self.owned_numbers and to_number not in self.owned_numbers:
            raise ValueError(f"{to_number} is not one of this account's numbers")
        config = CallConfig(url=self.answer_url)
        call = self._new_call(to_number, from_number, "inbound", plan, config)
        await call.set_status("ringing")
        call.runner = self._spawn(call, self._answer_xml(call), "inbound")
        return call

    # -- the parts' interface (rest, xml, stream) ---------------------------------------

    def dial(
        self, to: str, from_: str, config: CallConfig, request_uuid: str, ring_url: str | None
    ) -> SimCall:
        plan = self._plans if isinstance(self._plans, CallPlan) else self._plans(to)
        call = self._new_call(to, from_, "outbound-api", plan, config)
        self.requests[request_uuid] = call
        self._request_of[call.sid] = request_uuid
        self._ring_urls[call.sid] = ring_url
        call.runner = self._spawn(call, self._run_outbound(call), "outbound")
        return call

    async def answer(self, call: SimCall) -> None:
        if call.answered or call.is_final:
            return
        call.mark_answered()
        await call.set_status("in-progress")
        limit = call.config.time_limit_s
        if limit is not None and call.direction == "outbound-api":
            call.time_limit = self._tasks.spawn(
                self._time_limit(call, limit), f"fake-plivo-limit-{call.sid}"
            )

    def end_call(self, call: SimCall, final: str) -> asyncio.Task[None]:
        """End the call with `final` (a `SimCall` final status; first caller wins)."""
        if call.teardown is None:
            call.mark_ended(final)
            call.teardown = self._tasks.spawn(
                self._teardown(call, final), f"fake-plivo-end-{call.sid}"
            )
        return call.teardown

    async def play_digits(self, call: SimCall, digits: str) -> None:
        """REST DTMF: Plivo plays the keys to the callee, who hears them."""
        self.digits_sent.append((call.sid, digits))
        call.heard_digits += digits.replace("w", "")
        await call.changed()

    def transfer(self, call: SimCall, url: str) -> None:
        """Transfer Call (the aleg): the running XML and its stream stop, then `url` is
        fetched (signed, like the answer URL) and its XML run."""
        previous = call.runner
        call.runner = self._spawn(call, self._transfer(call, previous, url), "transfer")

    async def _transfer(self, call: SimCall, previous: asyncio.Task[None] | None, url: str) -> None:
        if previous is not None and not previous.done():
            previous.cancel()
            await asyncio.wait([previous])
        if call.stream is not None:
            await call.stream.shutdown()
        await self._fetch_and_run(
            call, "transfer", url, self._params(call, "in-progress", "Transfer")
        )

    # -- the lifecycle ------------------------------------------------------------------

    def _new_call(
        self, to: str, from_: str, direction: CallDirection, plan: CallPlan, config: CallConfig
    ) -> SimCall:
        call = SimCall(
            sid=str(uuid.uuid4()),
            to=to,
            from_=from_,
            direction=direction,
            plan=plan,
            config=config,
            create_params={},
            end=self._end,
        )
        self.calls[call.sid] = call
        self._client.open_outbox(call)
        self._new_calls.put_nowait(call)
        return call

    def _spawn(
        self, call: SimCall, work: Coroutine[Any, Any, None], what: str
    ) -> asyncio.Task[None]:
        return self._tasks.spawn(self._guard(call, work, what), f"fake-plivo-{what}-{call.sid}")

    async def _guard(self, call: SimCall, work: Coroutine[Any, Any, None], what: str) -> None:
        try:
            await work
        except Exception:
            logger.exception("fake Plivo: %s crashed for %s", what, call.sid)
            call.errors.append(f"{what} crashed")
            self.end_call(call, "completed" if call.answered else "failed")

    async def _end(self, call: SimCall, final: str) -> None:
        await asyncio.shield(self.end_call(call, final))

    async def _time_limit(self, call: SimCall, limit_s: int) -> None:
        await asyncio.sleep(limit_s)
        self.end_call(call, "completed")

    def _params(self, call: SimCall, status: str, event: str) -> dict[str, str]:
        params = {
            "CallUUID": call.sid,
            "CallStatus": status,
            "Direction": "outbound" if call.direction == "outbound-api" else "inbound",
            "Event": event,
            "From": _digits(call.from_),
            "To": _digits(call.to),
        }
        if request := self._request_of.get(call.sid):
            params["RequestUUID"] = request
            params["ALegRequestUUID"] = request
            params["ALegUUID"] = call.sid
        return params

    async def _teardown(self, call: SimCall, final: str) -> None:
        await call.changed()
        await cancel_and_wait(call.runner, call.time_limit, call.amd)
        if call.stream is not None:
            await call.stream.shutdown()
        hangup_url = call.config.status_callback
        if hangup_url is not None:
            status, cause = HANGUP.get(final, (final, "NORMAL_CLEARING"))
            params = self._params(call, status, "Hangup")
            params["HangupCause"] = cause
            talk = call.talk_time_s
            params["Duration"] = params["BillDuration"] = str(round(talk or 0))
            self._client.enqueue(call, ("status", hangup_url, params))
        await self._client.close_outbox(call)
        call.ended.set()
        await call.changed()

    async def _run_outbound(self, call: SimCall) -> None:
        plan, config = call.plan, call.config
        await asyncio.sleep(self.ring_delay_ms / 1000)
        await call.set_status("ringing")
        if ring_url := self._ring_urls.get(call.sid):
            self._client.enqueue(call, ("status", ring_url, self._params(call, "ringing", "Ring")))
        ring_s = plan.ring_ms / 1000
        if plan.answer != "answer" or ring_s >= config.timeout_s:
            await asyncio.sleep(min(ring_s, config.timeout_s))
            final = plan.answer if plan.answer != "answer" else "no-answer"
            self.end_call(call, final)
            return
        await asyncio.sleep(ring_s)
        await self.answer(call)
        if config.amd_callback is not None and plan.answered_by is not None:
            call.amd = self._tasks.spawn(self._amd_later(call), f"fake-plivo-amd-{call.sid}")
        await self._answer_xml(call)

    async def _answer_xml(self, call: SimCall) -> None:
        url = call.config.url
        assert url is not None
        await self._fetch_and_run(call, "answer", url, self._params(call, call.status, "StartApp"))

    async def _fetch_and_run(
        self, call: SimCall, what: str, url: str, params: dict[str, str]
    ) -> None:
        """Fetch the XML at `url` (a signed POST) and run it; none fetched ends the call."""
        record, body = await self._client.post(call, "voice", url, params)
        if record.status is None or not 200 <= record.status < 300 or body is None:
            call.errors.append(f"{what} URL {url} answered {record.status or record.error}")
            body = None
        else:
            call.twiml.append(body)
        await self._xml.run(call, body)

    async def _amd_later(self, call: SimCall) -> None:
        """Plivo's verdict: `Machine` true for any machine (it names no kind of machine, and
        a fax is one), false otherwise: a detection that could not tell (the plan's
        `unknown`) found no machine."""
        await asyncio.sleep(call.plan.amd_delay_ms / 1000)
        verdict = call.plan.answered_by or "unknown"
        call.answered_by = verdict
        machine = "true" if verdict.startswith("machine") or verdict == "fax" else "false"
        params = {
            **self._params(call, "in-progress", "MachineDetection"),
            "Machine": machine,
            "IfMachine": "hangup" if call.config.machine_detection == "hangup" else "continue",
        }
        assert call.config.amd_callback is not None
        self._client.enqueue(call, ("amd", call.config.amd_callback, params))
        await call.changed()
        if machine == "true" and call.config.machine_detection == "hangup":
            self.end_call(call, "completed")
