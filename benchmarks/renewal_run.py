"""The session-renewal probe: the model ends sessions under live calls.

The fake model ends one call's session after another as the real service does at its
maximum duration (`session_expired`, close 1001); per renewal this measures the worst delay
and any loss of the caller frames around it, and reads what our server journaled about it
(`model.renewed`) once it has stopped; `renewal_problems` is what the smoke asserts. It is
a run of its own because it tracks every session a call used and when each caller frame
first reached a live one, which the steady run does not pay for.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import os
import random
import sqlite3
from array import array
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.calls import RunOptions, hang_up_all, place_calls, wait_until
from benchmarks.fake_model import FakeModel, ModelSession
from benchmarks.markers import FRAME_S, clock
from benchmarks.procstat import ProcStat
from benchmarks.recorder import Call, Recorder, ms_summary
from benchmarks.sides import side
from benchmarks.target_process import Target, pick_cpus

# Far beyond the probe: our server must not renew ahead of time (that kind has no gap); the
# probe measures the unplanned kind, a session ended under a live call.
RENEWAL_LIFETIME_S = 30 * 24 * 3600.0
# Caller frames sent from this long before a renewal to this long after it (or after the
# new session's first frame, if later) are the ones it can delay or lose.
_AROUND_BEFORE_S = 0.2
_AROUND_AFTER_S = 1.0


@dataclass
class Renewal:
    call: Call
    old: ModelSession
    asked_at: float

    @property
    def at(self) -> float:
        """When the model wrote `session_expired` and its close (measuring clock)."""
        return self.old.ended_at if self.old.ended_at is not None else self.asked_at


def _renewal_row(r: Renewal) -> dict[str, Any]:
    """One renewal seen from outside: the worst delay of the caller frames it could hold
    up (from the carrier sending each to a live model session receiving it), the arrival
    gap, and the frames around it that never reached a live session."""
    call, old = r.call, r.old
    idx = next((i for i, s in enumerate(call.sessions) if s is old), -1)
    new = call.sessions[idx + 1] if 0 <= idx < len(call.sessions) - 1 else None
    end = r.at + _AROUND_AFTER_S
    if new is not None:
        end = max(end, new.first_at + _AROUND_BEFORE_S)
    sent = call.up.sent
    lo, hi = bisect.bisect_left(sent, r.at - _AROUND_BEFORE_S), bisect.bisect_right(sent, end)
    lost = [seq for seq in range(lo, hi) if seq not in call.up_at]
    # The frames the renewal can hold up: from one sent a frame interval before the end
    # (it may still be on its way) to the first one sent after the new session was
    # confirmed. A wider window would report the background jitter of its frames instead.
    held_lo = bisect.bisect_left(sent, r.at - FRAME_S)
    held_hi = hi if new is None else min(hi, bisect.bisect_right(sent, new.updated_at) + 1)
    delays = [call.up_at[seq] - sent[seq] for seq in range(held_lo, held_hi) if seq in call.up_at]
    row: dict[str, Any] = {
        "call": call.index,
        "session": idx + 1,
        "observed": new is not None,
        "frames_around": hi - lo,
        "frames_held": held_hi - held_lo,
        "worst_delay_ms": round(max(delays, default=0.0) * 1000, 3),
        "lost": len(lost),
        "lost_seqs": lost[:10],
        # when the carrier sent each lost frame, from the moment the model ended the session
        "lost_sent_ms": [round((sent[seq] - r.at) * 1000, 3) for seq in lost[:10]],
        "after_end": old.after_end,
    }
    if new is not None:
        # from the last frame the old session heard to the first the new one heard, less
        # the 20 ms a frame is due anyway: the hole in what the model hears
        row["arrival_gap_ms"] = round((new.first_at - old.last_at - FRAME_S) * 1000, 3)
        row["first_seq_new"] = new.first_seq
        row["last_seq_old"] = old.last_seq
        # from the end of the old session: the new one connected, confirmed, first heard
        # the caller (the confirmation is the worst gap a caller frame could see, had one
        # been due just as the old session ended)
        row["reconnect_ms"] = round((new.opened_at - r.at) * 1000, 3)
        row["ready_ms"] = round((new.updated_at - r.at) * 1000, 3)
        row["first_frame_ms"] = round((new.first_at - r.at) * 1000, 3)
    return row


def _server_renewals(db: Path, sids: dict[str, int]) -> dict[str, Any]:
    """What our server journaled about the renewals (`model.renewed` and friends), read
    from its store once it has stopped; {} if there is no store."""
    if not db.exists():
        return {}
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            rows = con.execute(
                "SELECT c.carrier_sid, c.end_reason, e.kind, e.data FROM events e "
                "JOIN calls c ON c.id = e.call_id WHERE e.kind IN "
                "('model.renewed', 'model.lost', 'model.retry', 'model.renew_failed', 'end')"
            ).fetchall()
        finally:
            con.close()
    except sqlite3.Error as exc:
        return {"error": str(exc)}
    renewed: list[dict[str, Any]] = []
    causes: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    ends: Counter[str] = Counter()
    dropped = 0
    for sid, end_reason, kind, raw in rows:
        if sid not in sids:
            continue  # the warm-up call
        data = json.loads(raw)
        kinds[kind] += 1
        if kind == "model.renewed":
            causes[str(data.get("cause"))] += 1
            renewed.append(data)
        elif kind == "end":
            dropped += int(data.get("dropped_frames") or 0)
            ends[str(end_reason)] += 1
    gaps = array("d", (d["gap_ms"] / 1000 for d in renewed if isinstance(d.get("gap_ms"), int)))
    return {
        "renewed": len(renewed),
        "causes": dict(causes),
        "events": dict(kinds),
        "gap_ms": ms_summary(gaps),
        "buffered_frames": sum(int(d.get("buffered_frames") or 0) for d in renewed),
        "replayed_items": [int(d.get("replayed_items") or 0) for d in renewed],
        "dropped_frames": dropped,
        "end_reasons": dict(ends),
    }


async def run_renewals(
    kind: str = "ours+uvloop",
    renewals: int = 20,
    calls: int = 4,
    every_s: float = 3.0,
    turn_every_s: float = 1.0,
    phase: str = "random",
    pin: bool = True,
    carrier: str = "twilio",
) -> dict[str, Any]:
    """Session renewal under live calls: `calls` calls, the model ending one of their
    sessions every `every_s / calls` seconds in turn (`session_expired`, close 1001, no
    advance `expires_at`), `renewals` in all; every caller frame followed by marker.

    `phase`: when in the 20 ms frame cycle a session ends. `random` (a seeded uniform
    offset), as a real expiry falls; `after-frame`, just after a caller frame reached the
    model, so the next one is ~20 ms away: the server has that long to renew before any
    frame can meet the closing session (the smoke's deterministic case)."""
    loop = asyncio.get_running_loop()
    rec = Recorder()
    calls = max(1, min(calls, renewals))
    fake = FakeModel(
        rec,
        turn_every_frames=int(turn_every_s / FRAME_S),
        session_lifetime_s=RENEWAL_LIFETIME_S,
        track=True,
        carrier=side(carrier),
    )
    await fake.start()
    server_cpu, lg_cpu = pick_cpus() if pin else (None, None)
    old_affinity = os.sched_getaffinity(0)
    if lg_cpu is not None:
        os.sched_setaffinity(0, {lg_cpu})
    opts = RunOptions(
        kind=kind, n=calls, seconds=0.0, pin=pin, ramp_per_s=10, barge_every_s=0, carrier=carrier
    )
    target = Target(kind, fake, max_calls=calls + 16, cpu=server_cpu, carrier=carrier)
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True, limit=64))
    result: dict[str, Any] = {
        "kind": kind,
        "carrier": carrier,
        "calls": calls,
        "renewals_asked": renewals,
        "every_s": every_s,
        "phase": phase,
    }
    try:
        await target.start()
        stat = ProcStat(target.pid)
        base_fds = stat.num_fds()
        callers = await place_calls(rec, opts, target.port, 0, calls, http)
        measured = [rec.calls[i] for i in range(calls)]
        await wait_until(
            lambda: all(c.error is not None or c.down.received > 0 for c in measured), 15
        )
        await asyncio.sleep(1.0)  # past the greeting and the first turns
        rec.window = True  # the carrier's send lag, for the generator's own health
        done: list[Renewal] = []
        skipped = 0
        spacing = every_s / calls
        due = loop.time()
        rng = random.Random(9)  # the same phases run after run
        for i in range(renewals):
            jitter = rng.uniform(0.0, FRAME_S) if phase == "random" else 0.0
            await asyncio.sleep(max(0.0, due + jitter - loop.time()))
            due += spacing
            call = measured[i % calls]
            session = call.model
            if call.error is None and session is not None and not session.ended:
                done.append(Renewal(call, session, clock()))
                if phase == "after-frame":
                    session.expire_after_frame = True
                else:
                    session.expire()
            else:  # the call failed, or its last renewal has not happened yet
                skipped += 1
        renewed = await wait_until(lambda: all(r.call.model is not r.old for r in done), 10)
        await asyncio.sleep(_AROUND_AFTER_S)  # the frames after the last renewal arrive
        rec.window = False
        await hang_up_all(callers)
        clean = await wait_until(
            lambda: (
                fake.open_sessions == 0
                and stat.num_fds() <= base_fds
                and stat.sockets_to_port(fake.port) == 0
            ),
            10,
            0.1,
        )
        rows = [_renewal_row(r) for r in done]
        observed = [row for row in rows if row["observed"]]
        around: set[tuple[int, int]] = set()
        for r in done:
            sent = r.call.up.sent
            lo = bisect.bisect_left(sent, r.at - _AROUND_BEFORE_S)
            hi = bisect.bisect_right(sent, r.at + _AROUND_AFTER_S)
            around.update((r.call.index, seq) for seq in range(lo, hi))
        # every other frame: what a caller frame takes through our server meanwhile
        steady = array(
            "d",
            (
                t - c.up.sent[seq]
                for c in measured
                for seq, t in c.up_at.items()
                if (c.index, seq) not in around and seq < len(c.up.sent)
            ),
        )
        result.update(
            {
                "renewals": len(done),
                "skipped": skipped,
                "observed": len(observed),
                "all_observed_s": None if renewed is None else round(renewed, 3),
                "gap_ms": ms_summary(
                    array("d", (row["worst_delay_ms"] / 1000 for row in observed))
                ),
                "arrival_gap_ms": ms_summary(
                    array("d", (row["arrival_gap_ms"] / 1000 for row in observed))
                ),
                "ready_ms": ms_summary(array("d", (row["ready_ms"] / 1000 for row in observed))),
                "steady_delay_ms": ms_summary(steady),
                "frames": {
                    "sent_up": sum(len(c.up.sent) for c in measured),
                    "received_up": sum(len(c.up_at) for c in measured),
                    "lost_up": sum(c.up.lost for c in measured),
                    "lost_down": sum(c.down.lost for c in measured),
                    "duplicates": sum(c.up.duplicates for c in measured),
                    "reordered": sum(c.up.reordered for c in measured),
                    "after_end": sum(c.after_end for c in measured),
                    "resent": sum(c.resent for c in measured),
                    "lost_around_renewals": sum(row["lost"] for row in rows),
                    "unknown": rec.unknown_markers,
                },
                "failed": sum(1 for c in measured if c.error or not c.down.received),
                "errors": sorted({c.error for c in measured if c.error})[:5],
                "sessions_total": fake.sessions_total,
                "model_client_events": dict(fake.client_events),
                "loadgen_lag_ms": ms_summary(rec.lag),
                "leftovers": {
                    "model_sessions_open": fake.open_sessions,
                    "model_sockets": stat.sockets_to_port(fake.port),
                    "fds_over_baseline": stat.num_fds() - base_fds,
                    "clean_after_s": None if clean is None else round(clean, 3),
                },
                "per_renewal": rows,
            }
        )
    finally:
        await http.close()
        result["target_exit"] = await target.stop()
        await fake.close()
        if lg_cpu is not None:
            os.sched_setaffinity(0, old_affinity)
    sids = {c.call_sid: c.index for c in rec.calls.values()}
    result["server"] = _server_renewals(target.data_dir / "data" / "calls.sqlite3", sids)
    return result


def renewal_problems(result: dict[str, Any]) -> list[str]:
    """What the smoke asserts of the renewal probe: every renewal asked for happened and
    was seen by our server as the expiry it was, and no caller frame was lost or doubled."""
    problems = []
    if result.get("failed"):
        problems.append(f"{result['failed']} call(s) failed: {result.get('errors')}")
    asked = result["renewals_asked"]
    if result["renewals"] != asked or result["observed"] != asked:
        problems.append(
            f"renewals: asked {asked}, made {result['renewals']}, observed (a new session "
            f"heard the caller) {result['observed']}"
        )
    frames = result["frames"]
    for key in ("lost_up", "lost_down", "duplicates", "reordered", "unknown"):
        if frames[key]:
            problems.append(
                f"{key}: {frames[key]} (after the end of a session: {frames['after_end']})"
            )
    server = result.get("server") or {}
    if server.get("causes") != {"expired": asked}:
        problems.append(f"the server's model.renewed causes: {server.get('causes')}")
    left = result["leftovers"]
    for key in ("model_sessions_open", "model_sockets", "fds_over_baseline"):
        if left[key]:
            problems.append(f"leftover {key}: {left[key]}")
    return problems
