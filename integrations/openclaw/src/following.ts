/**
 * Following a call, or a schedule, on the server until it is over (for result-push.ts).
 *
 * Every wait is bounded and none holds more than one request: a live call is long-polled
 * in steps the server holds for at most POLL_WAIT_S; a schedule due later is read again
 * at its due time by a timer (no connection is held while it waits, which may be days),
 * and at least every SCHEDULE_RECHECK_MS, since it may be canceled meanwhile; a server
 * that does not answer is asked again after a growing pause. Everything stops when the
 * signal aborts (the gateway stops) or when the watch has outlived its bound.
 */

import { setTimeout as delay } from "node:timers/promises";

import type { CallView, ScheduleRecord, ScheduleState } from "./api-types.js";
import { ApiError, type VoicecallClient } from "./client.js";
import type { PluginLogger } from "./host.js";

/** Each long poll asks the server to hold the answer this long (its limit is 60 s). */
export const POLL_WAIT_S = 50;
/** A schedule due later is read again at its due time, or after this at the latest. */
export const SCHEDULE_RECHECK_MS = 15 * 60_000;
/** Past its due time, or while the scheduler decides on an attempt that ended, a schedule
 * is read again after 0.5 s, 1 s, 2 s, … up to this (the scheduler looks every 30 s). */
const BUSY_FIRST_MS = 500;
const BUSY_MAX_MS = 30_000;
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 60_000;

const FINAL_STATES: ReadonlySet<ScheduleState> = new Set(["done", "canceled", "failed"]);

/** The gateway is stopping: the watch ends and its entry stays for the next start. */
export class Stopped extends Error {}
/** The server has no such call or schedule. */
export class Gone extends Error {}
/** The watch outlived its bound (result-push.ts says which). */
export class Expired extends Error {}

export interface FollowContext {
  client: () => VoicecallClient;
  logger: Pick<PluginLogger, "warn">;
  signal: AbortSignal;
  /** Whether the watch has outlived its bound. */
  expired: () => boolean;
}

export class Follower {
  private readonly context: FollowContext;

  constructor(context: FollowContext) {
    this.context = context;
  }

  /** The call once it has settled. */
  async settled(callId: string): Promise<CallView> {
    const { signal } = this.context;
    for (;;) {
      const view = await this.patiently(`call ${callId}`, () =>
        this.context.client().getCall(callId, { waitS: POLL_WAIT_S, signal }),
      );
      if (!view.active) return view;
    }
  }

  schedule(scheduleId: string): Promise<ScheduleRecord> {
    const { signal } = this.context;
    return this.patiently(`scheduled call ${scheduleId}`, () =>
      this.context.client().getSchedule(scheduleId, { signal }),
    );
  }

  async pause(ms: number): Promise<void> {
    try {
      await delay(ms, undefined, { signal: this.context.signal });
    } catch {
      throw new Stopped();
    }
  }

  /** `read`, asked again after a failure (a server restarting, a network hiccup); a 404
   * is final. */
  private async patiently<T>(what: string, read: () => Promise<T>): Promise<T> {
    let failures = 0;
    for (;;) {
      if (this.context.signal.aborted) throw new Stopped();
      if (this.context.expired()) throw new Expired(`gave up waiting for ${what}`);
      try {
        return await read();
      } catch (error) {
        if (this.context.signal.aborted) throw new Stopped();
        if (error instanceof ApiError && error.kind === "not-found") {
          throw new Gone(`the server has no ${what}`);
        }
        failures += 1;
        if (failures === 1 || failures % 10 === 0) {
          const message = error instanceof ApiError ? error.message : String(error);
          this.context.logger.warn(`voicecall-rt: still waiting for ${what}: ${message}`);
        }
        await this.pause(Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** (failures - 1)));
      }
    }
  }
}

/** A schedule that is over, and its last attempt once that call has settled (none when
 * no call was ever placed). */
export interface FinalAttempt {
  schedule: ScheduleRecord;
  view: CallView | undefined;
}

/**
 * Follow a schedule (a call for later, or the retries of a call) until it is over: each
 * attempt is followed to its end, after which the scheduler decides whether another is
 * due; nothing is reported until none will follow. `noteDue` is told each new due time
 * (the watch's bound counts from it).
 */
export async function finalAttempt(
  scheduleId: string,
  follower: Follower,
  noteDue: (dueAt: number) => Promise<void>,
): Promise<FinalAttempt> {
  let ended: string | undefined; // the latest attempt seen to settle
  let noted: number | undefined;
  let idle = 0; // reads in a row that found the scheduler still at work
  for (;;) {
    const schedule = await follower.schedule(scheduleId);
    const last = schedule.last_call_id ?? undefined;
    if (FINAL_STATES.has(schedule.state)) {
      // A schedule canceled during an attempt: that call goes on, and is what to report.
      return { schedule, view: last === undefined ? undefined : await follower.settled(last) };
    }
    if (schedule.state === "waiting" && last !== undefined && last !== ended) {
      await follower.settled(last);
      ended = last;
      idle = 0;
      continue; // the scheduler decides as soon as the attempt has ended
    }
    const untilDue = schedule.state === "pending" ? schedule.due_at - Date.now() : 0;
    if (schedule.state === "pending" && schedule.due_at !== noted) {
      await noteDue(schedule.due_at);
      noted = schedule.due_at;
    }
    if (untilDue > 0) {
      idle = 0;
      await follower.pause(Math.min(untilDue, SCHEDULE_RECHECK_MS));
    } else {
      await follower.pause(Math.min(BUSY_MAX_MS, BUSY_FIRST_MS * 2 ** idle));
      idle += 1;
    }
  }
}
