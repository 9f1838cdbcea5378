"""Keeping a model session under the call: the first one, and every one after it.

The first session is opened at pre-warm, while the phone rings. A session that ends under a
live call (the server's time limit, a dropped socket) is replaced at once: a new one gets
the conversation so far, then the caller audio that waited, in order. A session whose end is
known is replaced ahead of it, at the first quiet moment, so nothing is lost. Every way this
fails ends the call, with the reason (docs/design.md §2).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from voicecall_rt.call.state import Model
from voicecall_rt.model.base import ModelBackend, ModelConnectError, ModelSession, SessionRefused

if TYPE_CHECKING:
    from voicecall_rt.call.bridge import CallBridge

# A lost session is renewed at most this many times in a row without a turn in between.
RENEW_ATTEMPTS = 3
# A session with a known end is replaced this long before it (or a quarter of its life,
# for short ones), at the first quiet moment; `RENEW_LAST_CALL_S` before the end it is
# replaced whatever is happening.
RENEW_AHEAD_S = 120.0
RENEW_LAST_CALL_S = 10.0
QUIET_POLL_S = 0.05


class SessionKeeper:
    def __init__(self, bridge: CallBridge, backend: ModelBackend) -> None:
        self._bridge = bridge
        self._backend = backend
        self._journal = bridge.journal
        self._state = bridge.state
        self._relay = bridge.relay
        self._conversation = bridge.conversation
        self.renewals = 0  # sessions opened after the first
        self._lost_t: int | None = None  # when the session under a live call went away
        self._ahead: asyncio.Task[None] | None = None

    async def open(self) -> ModelSession:
        return await self._backend.open(self._connect_retry)

    def _connect_retry(self, attempt: int, error: str) -> None:
        self._journal.event("model.retry", attempt=attempt, error=error)

    async def run(self) -> str:
        """Open the first session and keep one until the call ends; returns the end reason
        to use if the model side ends the call."""
        bridge = self._bridge
        try:
            session = await self.open()
            if self._state.ended:
                await session.close()
                return "model-disconnected"
            self.attach(session)
            self._journal.event("model.ready", connect_ms=session.connect_ms)
            await bridge.model_ready()
            while True:
                await session.run()
                if self._state.ended or bridge.fatal:
                    return "model-disconnected"
                current = self._conversation.session
                if current is not None and current is not session:
                    session = current  # replaced ahead of its end: go on with the new one
                    continue
                # The session ended under a live call: the call goes on in a new one.
                renewed = await self._renew_lost()
                if renewed is None:
                    return "model-disconnected"
                session = renewed
        except SessionRefused as exc:
            bridge.fail("model-refused", str(exc))
            return "model-refused"
        except ModelConnectError as exc:
            bridge.fail("model-unavailable", str(exc))
            return "model-unavailable"
        except (TimeoutError, ConnectionError) as exc:
            self._journal.event("model.failed", error=str(exc) or type(exc).__name__)
            return "model-disconnected"

    def attach(self, session: ModelSession) -> None:
        """Make `session` the call's: its events to the conversation, its audio to the
        relay, then the caller audio that waited for it, in order."""
        conversation = self._conversation
        conversation.session = session
        session.listen(conversation, self._relay, self._closed)
        self._relay.attach(session)
        self._state.model_to(Model.READY)
        if session.lifetime_s is not None and not self._state.ended:
            self._ahead = asyncio.create_task(
                self._renew_ahead(session, session.lifetime_s),
                name=f"renew-{self._journal.call_id}",
            )
            self._bridge.track(self._ahead)

    def _closed(self) -> None:
        """The session's connection is gone: caller audio waits for the next one."""
        self._relay.detach()
        self._state.model_to(Model.LOST)
        if self._lost_t is None:
            self._lost_t = self._journal.t_ms()

    def _gone(self) -> None:
        """What was in progress on a session that is gone will never finish there."""
        self._relay.detach()
        if self._ahead is not None:
            self._ahead.cancel()
            self._ahead = None
        if self._state.responding:
            self._conversation.response_idle.set()
        self._state.session_gone()

    def forget(self) -> None:
        """The call has ended: drop the renewal task's reference (its CancelledError's
        traceback would keep the whole call alive for the cyclic GC)."""
        self._ahead = None

    async def _renew_lost(self) -> ModelSession | None:
        """The new session (None if the call ended meanwhile). Raises SessionRefused /
        ModelConnectError when no new session can be had."""
        lost = self._lost_t if self._lost_t is not None else self._journal.t_ms()
        cause = "expired" if self._conversation.expired else "lost"
        self._conversation.expired = False
        self._journal.event("model.lost", cause=cause)
        self._gone()
        resent = self._relay.resend_uncommitted()
        last: ModelConnectError | None = None
        for attempt in range(RENEW_ATTEMPTS):
            if self._state.ended:
                return None
            try:
                session = await self.open()
            except SessionRefused:
                raise
            except ModelConnectError as exc:
                last = exc
                self._journal.event("model.retry", attempt=attempt + 1, error=str(exc))
                continue
            if self._state.ended:
                await session.close()
                return None
            self._switch(session, cause=cause, gap_from=lost, resent=resent)
            return session
        assert last is not None
        raise last

    def _switch(
        self, session: ModelSession, *, cause: str, gap_from: int | None, resent: int = 0
    ) -> None:
        """Make `session` the call's: replay the conversation into it, then attach it (which
        flushes the caller audio buffered meanwhile) — all in one step of the loop, so no
        caller frame can slip between."""
        conversation = self._conversation
        playing = conversation.transcript.still_playing()
        replayed = session.replay(conversation.history.replay(extra=playing))
        buffered = len(self._relay.pending) - resent
        self.attach(session)
        self.renewals += 1
        gap = None if gap_from is None else self._journal.t_ms() - gap_from
        self._lost_t = None
        self._journal.event(
            "model.renewed",
            cause=cause,
            gap_ms=gap,
            replayed_items=replayed,
            buffered_frames=buffered,
            resent_frames=resent,
            session=self.renewals,
        )
        state = self._state
        if state.leaving_voicemail:
            # Recording a voicemail: the machine's sounds must not cut the message.
            session.listen_only()
        if (
            cause != "ahead"
            and not state.closing
            and conversation.history.awaiting_reply(extra=playing)
        ):
            # The caller's last words went unanswered when the session was lost.
            session.respond()

    async def _renew_ahead(self, session: ModelSession, lifetime_s: float) -> None:
        """Replace a session before the server ends it: open the next one early, switch at
        the first quiet moment (nobody speaking, nothing queued), so nothing is lost."""
        lead = min(RENEW_AHEAD_S, lifetime_s / 4)
        loop = asyncio.get_running_loop()
        end_at = loop.time() + lifetime_s
        await asyncio.sleep(max(0.0, lifetime_s - lead))
        try:
            fresh = await self.open()
        except ModelConnectError as exc:
            # The current session still runs; when it ends, the lost-session path retries.
            self._journal.event("model.renew_failed", error=str(exc))
            return
        deadline = end_at - min(RENEW_LAST_CALL_S, lead / 2)
        try:
            # Polled: this runs once a session (an hour), for seconds at most, and "quiet"
            # is the conjunction of states that change on the hot path.
            while loop.time() < deadline and not self._quiet():  # noqa: ASYNC110
                await asyncio.sleep(QUIET_POLL_S)
        finally:
            if self._state.ended or self._conversation.session is not session or session.closed:
                # The call ended, or the session was lost meanwhile (and this task
                # cancelled): the spare session is not needed.
                await fresh.close()
        if fresh.closed:
            return
        self._ahead = None
        session.detach()  # its last messages (the end of nothing) reach nobody
        self._gone()
        self._relay.recent.clear()  # switched at a quiet moment: nothing is left uncommitted
        self._switch(fresh, cause="ahead", gap_from=None)
        await session.close()

    def _quiet(self) -> bool:
        return self._state.quiet(
            audio_queued=self._relay.playback.audio_queued,
            work_pending=self._conversation.tools.busy,
        )
