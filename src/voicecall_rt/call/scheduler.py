"""The scheduler: places the calls that are due (scheduled ones, and the follow-up attempts
of calls that did not get through), and decides, when an attempt ends, whether another
is due (docs/business.md §Retries and scheduled calls).

One runs in each serve instance. Everything it knows is in the store (store/schedules.py),
so a restart, or another instance, picks up where it left off: a due row is claimed by
one instance (state placing) before it is dialled; the attempt's call row, stored by
`CallManager.place` before it dials, is what proves an attempt was made, so a claim that
expired with the row present waits for that call, and without it is placed again, never
twice. It wakes when asked (a new schedule), when a call of this instance settles, at the
next due time, and every SWEEP_S seconds at the latest (another instance's work).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Final

from voicecall_rt.call import calling_hours
from voicecall_rt.call.admission import PlaceError
from voicecall_rt.call.manager import CallManager
from voicecall_rt.call.records import HUNG_UP_ON_REQUEST, CallRecord, CallStatus
from voicecall_rt.call.scheduling import (
    CallRequest,
    check_request,
    ms,
    parse_at,
    store_schedule,
)
from voicecall_rt.config_business import RetryOn
from voicecall_rt.phone import mask_number
from voicecall_rt.store import schedules
from voicecall_rt.store.errors import StoreError
from voicecall_rt.store.schedules import Schedule, ScheduleState, new_schedule_id

log = logging.getLogger(__name__)

# How long a claim holds: far longer than placing a call takes (the carrier's answer to
# the dial is awaited a few seconds), so a live instance never loses its claim.
CLAIM_S: Final = 300.0
SWEEP_S: Final = 30.0
# A due attempt refused for a moment (the concurrency limit, a draining instance, the
# database away) is tried again this much later, without counting as an attempt.
LATER_S: Final = 30.0
BATCH: Final = 10
# Refusals that pass: the attempt is tried again later.
_PASSING: Final = frozenset({"limit", "draining", "store"})

Wait = Callable[[asyncio.Event, float], Awaitable[None]]
Ending = RetryOn | str


async def wait_event(event: asyncio.Event, timeout_s: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            await event.wait()


def ending_of(record: CallRecord) -> Ending:
    """How an attempt ended, in `calls.retry.on`'s words, or "answered"."""
    machine = (record.answered_by or "").startswith("machine") or record.end_reason == "voicemail"
    if record.answered_at is not None:
        return "voicemail" if machine else "answered"
    if record.end_reason == HUNG_UP_ON_REQUEST:
        # Someone (the agent, a person at the dashboard) stopped it: never dialled again.
        return "hung up on request"
    if record.status is CallStatus.BUSY:
        return "busy"
    if record.status is CallStatus.FAILED:
        return "failed"
    return "no-answer"  # no-answer, or canceled before anyone picked up


class Scheduler:
    """Started and stopped with the server (web/app.py); `run_once` is one round, which
    tests call with the manager's clock set."""

    def __init__(self, manager: CallManager, *, wait: Wait = wait_event) -> None:
        self.manager = manager
        self.store = manager.store
        self._wait = wait
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._round = asyncio.Lock()

    @property
    def instance(self) -> str:
        return self.manager.cluster.instance_id

    def now(self) -> datetime:
        return self.manager.clock()

    # ---- lifecycle --------------------------------------------------------------------

    def start(self) -> None:
        self.manager.hub.listen(self._heard)
        self._task = asyncio.create_task(self._run(), name="call-scheduler")

    async def stop(self) -> None:
        self.manager.hub.unlisten(self._heard)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def wake(self) -> None:
        self._wake.set()

    def _heard(self, entry: dict[str, Any]) -> None:
        if entry.get("kind") == "call.status" and CallStatus(entry["data"]["status"]).terminal:
            self.wake()  # an attempt may have ended

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.run_once()
                due = await schedules.next_due(self.store)
            except (StoreError, OSError) as exc:
                log.warning("scheduler: the store cannot be read now: %s", exc)
                due = None
            except Exception:
                log.exception("scheduler: round failed")
                due = None
            timeout = SWEEP_S
            if due is not None:
                timeout = min(SWEEP_S, max(0.05, (due - ms(self.now())) / 1000))
            await self._wait(self._wake, timeout)

    # ---- requests ---------------------------------------------------------------------

    async def request(self, request: CallRequest) -> tuple[CallRecord | None, Schedule | None]:
        """A call asked for: placed now (with its schedule when retries are configured),
        or stored for later (`at`, or `whenAllowed` outside calling hours). PlaceError
        for a refusal, with nothing stored."""
        settings, now = self.manager.settings, self.now()
        if request.at is not None:
            due = parse_at(request.at, request.time_zone, now)
            if due > now:
                return None, await self._store(request, due, now)
        elif request.time_zone is not None:
            raise PlaceError("invalid-time-zone", "timeZone is for `at`: give `at` too")
        retries = settings.calls.retry.attempts > 1
        schedule_id = new_schedule_id() if retries else None
        try:
            record = await self._dial(request.to, request, schedule_id, 1 if retries else None)
        except PlaceError as exc:
            if exc.code == "outside-calling-hours" and request.when_allowed and exc.next_allowed:
                return None, await self._store(request, exc.next_allowed, now)
            raise
        if schedule_id is None:
            return record, None
        schedule = await store_schedule(
            settings,
            self.store,
            request,
            to=record.to_number,
            due=now,
            now=now,
            first_call_id=record.id,
            schedule_id=schedule_id,
        )
        self.wake()  # the first attempt may have ended already
        return record, schedule

    async def _dial(
        self, to: str, brief: CallRequest | Schedule, schedule_id: str | None, attempt: int | None
    ) -> CallRecord:
        return await self.manager.place(
            to,
            brief.task,
            brief.system_prompt,
            notify_session_key=brief.notify_session_key,
            outcome_schema=brief.outcome_schema,
            schedule_id=schedule_id,
            attempt=attempt,
        )

    async def _store(self, request: CallRequest, due: datetime, now: datetime) -> Schedule:
        settings = self.manager.settings
        to, due = await check_request(settings, self.store, request, due)
        schedule = await store_schedule(settings, self.store, request, to=to, due=due, now=now)
        log.info("call to %s scheduled for %s (%s)", mask_number(to), due, schedule.id)
        self.wake()
        return schedule

    # ---- one round --------------------------------------------------------------------

    async def run_once(self) -> None:
        """Repair what a crash left, decide the attempts that ended, place what is due."""
        async with self._round:
            now = ms(self.now())
            for stale in await schedules.expired_claims(self.store, now):
                await self._repair(stale, now)
            for waiting in await schedules.waiting_schedules(self.store):
                await self._decide(waiting)
            if self.manager.draining:
                return  # a draining instance claims nothing: the others will
            claimed = await schedules.claim_due(
                self.store, self.instance, now=now, until=now + int(CLAIM_S * 1000), limit=BATCH
            )
            for schedule in claimed:
                await self._place(schedule)

    async def _repair(self, schedule: Schedule, now: int) -> None:
        attempt = schedule.attempts_made + 1
        record = await schedules.find_attempt(self.store, schedule.id, attempt)
        if record is not None:  # it was dialled: wait for it, never dial it again
            await schedules.note_attempt(self.store, schedule.id, record.id, attempt, now)
        else:
            await schedules.release_claim(
                self.store, schedule.id, due_at=now, reason=schedule.reason, now=now
            )
        log.warning("schedule %s: claim by %s expired; repaired", schedule.id, schedule.claimed_by)

    async def _place(self, schedule: Schedule) -> None:
        attempt = schedule.attempts_made + 1
        try:
            record = await self._dial(schedule.to_number, schedule, schedule.id, attempt)
        except PlaceError as exc:
            await self._refused(schedule, attempt, exc)
            return
        now = ms(self.now())
        await schedules.note_attempt(self.store, schedule.id, record.id, attempt, now)
        log.info("schedule %s: attempt %d is call %s", schedule.id, attempt, record.id)

    async def _refused(self, schedule: Schedule, attempt: int, exc: PlaceError) -> None:
        now = self.now()
        stored = await schedules.find_attempt(self.store, schedule.id, attempt)
        if stored is not None:  # refused after it was stored (the carrier's refusal)
            await schedules.note_attempt(self.store, schedule.id, stored.id, attempt, ms(now))
            self.wake()
            return
        reason = f"{exc.code}: {exc}"
        if exc.code in _PASSING:
            later = now + timedelta(seconds=LATER_S)
            await schedules.release_claim(
                self.store, schedule.id, due_at=ms(later), reason=reason, now=ms(now)
            )
        elif exc.code == "outside-calling-hours" and exc.next_allowed and schedule.when_allowed:
            await schedules.release_claim(
                self.store, schedule.id, due_at=ms(exc.next_allowed), reason=reason, now=ms(now)
            )
        else:
            await schedules.finish(
                self.store, schedule.id, "failed", reason, now=ms(now), from_state="placing"
            )
        log.warning("schedule %s: attempt %d refused: %s", schedule.id, attempt, reason)

    async def _decide(self, schedule: Schedule) -> None:
        """A waiting schedule whose attempt has ended: done, or pending for the next one."""
        if schedule.last_call_id is None:
            return
        record = await self.store.get_call(schedule.last_call_id)
        if record is None or not record.status.terminal:
            return  # still under way
        now = self.now()
        ending = ending_of(record)
        retry = schedule.retry_settings
        n = schedule.attempts_made
        state: ScheduleState
        if ending == "answered":
            state, reason = "done", "answered"
        elif ending == "hung up on request":
            state, reason = "done", f"attempt {n}: hung up on request, not retried"
        elif ending not in retry.on:
            state, reason = "done", f"attempt {n}: {ending}, not retried (calls.retry.on)"
        elif n >= schedule.max_attempts:
            state = "done"
            reason = f"attempts exhausted: {n} of {schedule.max_attempts}, last {ending}"
        else:
            wait = retry.backoff_seconds * retry.backoff_multiplier ** (n - 1)
            due = now + timedelta(seconds=wait)
            hours = self.manager.settings.calls.hours
            try:
                if hours.restricted and not calling_hours.allowed(schedule.to_number, hours, due):
                    due = calling_hours.next_allowed(schedule.to_number, hours, due)
            except calling_hours.NeverAllowed as exc:
                state, reason = "failed", f"outside-calling-hours: {exc}"
            else:
                await schedules.retry_later(
                    self.store,
                    schedule.id,
                    record.id,
                    due_at=ms(due),
                    reason=f"attempt {n}: {ending}; attempt {n + 1} due",
                    now=ms(now),
                )
                log.info("schedule %s: attempt %d %s; next at %s", schedule.id, n, ending, due)
                return
        await schedules.finish(
            self.store, schedule.id, state, reason, now=ms(now), from_state="waiting"
        )
