"""The call manager: places and admits calls, owns their bridges, answers the carrier.

It holds what must be decided in one place: the concurrency limit, the stream tokens,
what to answer each carrier callback, and the rule that every call ends in a terminal
status with a reason, even when the carrier's last callback never comes (the reaper,
`reaper.py`). What each callback means for its call's record is in `progress.py`; the
calls themselves, and how one is settled, in `roster.py`; calls another instance runs, in
`elsewhere.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final, NoReturn

from voicecall_rt import prompts
from voicecall_rt.background import TaskSet
from voicecall_rt.call import reaper
from voicecall_rt.call.admission import (
    PlaceError,
    check_outbound,
    check_schema,
    inbound_refusal,
    reserve_inbound,
    reserve_outbound,
)
from voicecall_rt.call.bridge import CallBridge, CallSummary
from voicecall_rt.call.elsewhere import Elsewhere
from voicecall_rt.call.guards import check_guards
from voicecall_rt.call.journal import CallJournal, Hub
from voicecall_rt.call.live_actions import LiveActions
from voicecall_rt.call.progress import CallProgress
from voicecall_rt.call.records import CallRecord, CallStatus, now_ms
from voicecall_rt.call.roster import ActiveCall, Roster
from voicecall_rt.call.routes import outbound_request, stream_url
from voicecall_rt.call.tokens import StreamTokens
from voicecall_rt.call.tools import call_tools
from voicecall_rt.call.transfer import TransferEnds
from voicecall_rt.carrier.base import (
    CallAnswered,
    CarrierApi,
    CarrierError,
    Connect,
    Decision,
    HangUp,
    InboundCall,
    MachineVerdict,
    Proceed,
    StatusChanged,
    StreamStart,
    TransferLegEnded,
)
from voicecall_rt.cluster.base import Cluster
from voicecall_rt.cluster.single import SingleInstance
from voicecall_rt.config import Settings
from voicecall_rt.phone import mask_number, normalize_e164
from voicecall_rt.public_url import PublicUrlError, Resolver, check_public_dns, system_resolver
from voicecall_rt.store.base import Store

log = logging.getLogger(__name__)

# At shutdown, how long the follow-ups of webhooks (a transfer's end) may still finish.
FOLLOW_UP_GRACE_S: Final = 5.0


def new_call_id() -> str:
    return "call_" + secrets.token_hex(8)


class CallManager:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        hub: Hub,
        carrier: CarrierApi | None,
        resolver: Resolver = system_resolver,
        cluster: Cluster | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.hub = hub
        self._carrier = carrier
        self._resolver = resolver
        self._reaper: asyncio.Task[None] | None = None
        self._tokens = StreamTokens(lambda: asyncio.get_running_loop().time())
        self.calls = Roster(store, hub, self._tokens)
        self._progress = CallProgress(self.calls, store)
        self._live = LiveActions(self.calls, carrier, settings)
        self._transfer_ends = TransferEnds(store, carrier, self.wait)
        self._follow_ups = TaskSet()
        # Alone unless told otherwise: the tests' managers and the SQLite store.
        self.cluster = cluster or SingleInstance(store, "local")
        self._elsewhere = Elsewhere(store, hub, self.cluster, carrier)
        self.draining = False  # no new call is taken (call/drain.py)
        # What time it is for the guards' calling hours and daily spend (tests set it).
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    # ---- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        settled = await self.cluster.start(self._elsewhere.settle_lost)
        if settled:
            log.warning("settled %d call(s) left open by a previous run", len(settled))
        self._reaper = asyncio.create_task(
            reaper.reap_forever(self.calls, self.settings), name="call-reaper"
        )

    async def shutdown(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        for active in self.calls:
            await active.bridge.end("shutdown", hang_up=True)
            self.calls.settle(active, None, "shutdown")
        await self._follow_ups.finish(FOLLOW_UP_GRACE_S)
        await self.store.flush()
        await self.cluster.stop()

    @property
    def active_count(self) -> int:
        return len(self.calls)

    def active_ids(self) -> list[str]:
        return self.calls.ids()

    def is_active(self, call_id: str) -> bool:
        return call_id in self.calls

    def bridges(self) -> list[CallBridge]:
        """The bridges of the calls not settled yet (some may have ended)."""
        return [active.bridge for active in self.calls]

    # ---- placing and admitting calls --------------------------------------------------

    def _stream_url(self) -> str:
        assert self.settings.public_url is not None
        return stream_url(self.settings.public_url)

    async def place(
        self,
        to: str,
        task: str,
        system_prompt: str | None = None,
        notify_session_key: str | None = None,
        outcome_schema: dict[str, Any] | None = None,
        *,
        schedule_id: str | None = None,
        attempt: int | None = None,
    ) -> CallRecord:
        """Dial `to` with a brief; returns the record once the carrier has accepted the call.

        `notify_session_key` is only stored, for the notify webhook to hand back;
        `outcome_schema` is what the outcome's details must follow (docs/outcomes.md);
        `schedule_id`, `attempt`: the schedule this call is an attempt of (call/scheduler.py)."""
        to = check_outbound(
            self.settings, to, task, system_prompt, active=len(self.calls), draining=self.draining
        )
        check_schema(outcome_schema)
        if self._carrier is None:
            raise PlaceError("config", "no carrier is configured")
        live_usage = {active.record.id: active.bridge.usage for active in self.calls}
        await check_guards(self.settings, self.store, to, now=self.clock(), live_usage=live_usage)
        # Again after the guards' reads: calls may have begun, or a drain, meanwhile.
        check_outbound(
            self.settings, to, task, system_prompt, active=len(self.calls), draining=self.draining
        )
        public = self.settings.public_url
        assert public is not None
        # Reserve the slot before the first await, so racing requests cannot overshoot it.
        record = CallRecord(
            id=new_call_id(),
            direction="outbound",
            from_number=self.settings.from_number or "",
            to_number=to,
            task=task,
            system_prompt=system_prompt,
            notify_session_key=notify_session_key,
            outcome_schema=outcome_schema,
            carrier=self.settings.carrier,
            schedule_id=schedule_id,
            attempt=attempt,
        )
        await reserve_outbound(self.cluster, record, self.settings.calls.max_concurrent)
        active = self._admit(record)
        try:
            await check_public_dns(public, self._resolver)
        except PublicUrlError as exc:
            await self._refuse(active, "public-url", f"publicUrl: {exc}")
        active.bridge.start_model()  # pre-warm while the phone rings
        calls = self.settings.calls
        stream = None
        if self._carrier.streams_at_dial:
            token = self._tokens.mint(record.id, wait_s=calls.timeout_seconds)
            stream = Connect(self._stream_url(), token)
        request = outbound_request(
            public,
            record.id,
            to=to,
            from_=record.from_number,
            ring_timeout_s=calls.timeout_seconds,
            time_limit_s=calls.max_duration_seconds,
            amd=calls.enable_amd,
            stream=stream,
        )
        try:
            sid = await self._carrier.create_call(request)
        except CarrierError as exc:
            await self._refuse(active, "carrier", str(exc))
        self._progress.note_dialled(record, sid)
        active.journal.event("placed", to=mask_number(to))
        log.info("call %s placed to %s", record.id, mask_number(to))
        return record

    async def _refuse(self, active: ActiveCall, code: str, message: str) -> NoReturn:
        active.record.error = message
        self.store.update_call(active.record.id, error=message)
        await active.bridge.end(code)
        self.calls.settle(active, CallStatus.FAILED, code)
        raise PlaceError(code, message)

    def _admit(self, record: CallRecord) -> ActiveCall:
        """The bridge and journal of a call whose row is stored (`_reserve`)."""
        journal = CallJournal(self.store, self.hub, record.id, record.created_at)
        labels = [target.label for target in self.settings.calls.transfer.targets]
        instructions = prompts.build_instructions(
            direction=record.direction,
            task=record.task,
            system_prompt=record.system_prompt,
            transfer_labels=labels,
        )
        bridge = CallBridge(
            call_id=record.id,
            direction=record.direction,
            settings=self.settings,
            journal=journal,
            instructions=instructions,
            tools=call_tools(record.outcome_schema, labels),
            hang_up=self._live.hang_up,
            on_end=self._bridge_ended,
            press_keys=self._live.press_keys,
            transfer=self._live.transfer,
            other_party=record.to_number if record.direction == "outbound" else record.from_number,
        )
        active = ActiveCall(record=record, bridge=bridge, journal=journal)
        self.calls.add(active)
        if record.carrier_sid:  # an inbound call comes with it
            self.calls.note_sid(record, record.carrier_sid)
        journal.event("created", direction=record.direction)
        return active

    def answer_outbound(self, call_id: str, event: CallAnswered) -> Decision:
        """What to do with an outbound call the callee just picked up."""
        active = self.calls.get(call_id)
        sid = event.call_sid
        if active is None or active.bridge.ended:
            return HangUp()
        if not self._progress.same_call(active, sid, event.dial_id):
            return HangUp()
        self._progress.note_answered(active, sid)
        if self._carrier is not None and self._carrier.streams_at_dial:
            return Proceed()  # its stream, token included, was requested in the dial
        return Connect(self._stream_url(), self._tokens.mint(active.record.id))

    async def answer_inbound(self, event: InboundCall) -> Decision:
        """What to do with a call someone placed to our number: policy, limits, the bridge."""
        inbound = self.settings.inbound
        caller = event.from_number
        try:
            caller = normalize_e164(caller)
        except ValueError:
            caller = ""
        refusal = inbound_refusal(self.settings, caller, len(self.calls), draining=self.draining)
        if refusal is not None:
            return refusal
        again = self.calls.find(None, event.call_sid) if event.call_sid else None
        if again is not None:
            # The carrier asked twice (a retry, an at-least-once delivery): the same call,
            # and the same token, so the stream is admitted whichever answer it acts on.
            token = self._tokens.reissue(again.record.id)
            return Proceed() if token is None else Connect(self._stream_url(), token)
        record = CallRecord(
            id=new_call_id(),
            direction="inbound",
            from_number=caller or event.from_number[:32],
            to_number=event.to_number[:32],
            system_prompt=inbound.system_prompt,
            carrier=self.settings.carrier,
            carrier_sid=event.call_sid or None,
        )
        refusal = await reserve_inbound(self.cluster, record, self.settings.calls.max_concurrent)
        if refusal is not None:
            return refusal
        active = self._admit(record)
        active.bridge.start_model()  # pre-warm while the carrier fetches the stream URL
        self._progress.note_answered(active, event.call_sid)
        return Connect(self._stream_url(), self._tokens.mint(active.record.id))

    def claim_stream(self, token: str, start: StreamStart) -> CallBridge | None:
        """The media stream presented `token`: single use, unexpired, constant-time compared."""
        call_id = self._tokens.claim(token)
        active = self.calls.get(call_id) if call_id is not None else None
        if active is None:
            return None
        record = active.record
        if record.carrier_sid and start.call_sid and start.call_sid != record.carrier_sid:
            return None
        if start.call_sid and not record.carrier_sid:
            self.calls.note_sid(record, start.call_sid)  # what a hang-up will name
        return active.bridge

    # ---- carrier callbacks (call/progress.py) -----------------------------------------

    async def on_status(self, call_id: str | None, event: StatusChanged) -> None:
        await self._progress.on_status(call_id, event)

    async def on_amd(self, call_id: str | None, verdict: MachineVerdict) -> None:
        await self._progress.on_amd(call_id, verdict)

    async def on_transfer_leg_ended(self, event: TransferLegEnded) -> None:
        """The person a call was handed to never answered, or hung up (call/transfer.py).
        The caller's own leg may carry the transfer's tag too: its end is a status, found
        by its id alone (the tag names the call whichever leg ended)."""
        await self._progress.on_status(None, StatusChanged(event.call_sid, event.status, event.raw))
        # Not awaited: it may wait for the call to settle, and the carrier wants its webhook
        # answered at once (a slow answer is delivered again).
        self._follow_ups.spawn(
            self._transfer_ends.on_leg_ended(event), f"transfer-end-{event.call_id}"
        )

    # ---- ending -----------------------------------------------------------------------

    async def hang_up(self, call_id: str) -> bool:
        active = self.calls.get(call_id)
        if active is None:
            return await self._elsewhere.hang_up(call_id)
        await active.bridge.end("hangup-requested", hang_up=True)
        return True

    def _bridge_ended(self, call_id: str, summary: CallSummary) -> None:
        active = self.calls.get(call_id)
        if active is None:
            return
        active.bridge_ended_at = asyncio.get_running_loop().time()
        record = active.record
        record.end_reason = record.end_reason or summary.end_reason
        record.ended_at = now_ms()
        if summary.outcome is not None:
            record.outcome = summary.outcome
        if summary.error and not record.error:
            record.error = summary.error
        self.store.update_call(
            record.id,
            end_reason=record.end_reason,
            ended_at=record.ended_at,
            usage=summary.usage or None,
            error=record.error,
        )
        if record.direction == "inbound" or summary.end_reason == "transferred":
            # No status callback is asked for on an inbound call (the number's Voice URL is
            # all the user configures): the end of its stream is the end of the call. A
            # transferred call is over for us (the carrier's final status comes whenever
            # the person it went to hangs up).
            self.calls.settle(active, None, record.end_reason or "ended")

    async def wait(self, call_id: str, timeout_s: float) -> None:
        """Return once the call has settled, or when `timeout_s` runs out."""
        active = self.calls.get(call_id)
        if active is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_s):
                    await active.settled.wait()
        else:
            await self._elsewhere.wait(call_id, timeout_s)

    def is_live(self, record: CallRecord) -> bool:
        """Whether the call is still going: here, or (several instances) on another one."""
        return record.id in self.calls or self._elsewhere.is_live(record)

    async def reap(self) -> None:
        """One round of the reaper (call/reaper.py)."""
        await reaper.reap(self.calls, self.settings)
