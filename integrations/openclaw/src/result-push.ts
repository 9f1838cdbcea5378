/**
 * Pushing a call's result into the session that placed it.
 *
 * `make_phone_call` returns at once; this follows the call on the server (following.ts)
 * and, once it has settled, puts the report into that session as a system event and wakes
 * the session. A call with retries, and a call for later, is followed through its
 * schedule instead: an attempt that did not get through is reported only when no further
 * attempt will follow, as the final attempt's result ("attempt N of M"), so the agent does
 * not dial again while the server retries.
 *
 * What is being followed is kept in a file (pending-file.ts) until its result is
 * delivered, so a gateway restart (or a plugin reload) resumes it, including a call that
 * ended, or a schedule that ran, while the gateway was down. Delivery is at least once: a
 * crash between the push and the file's update pushes the same report again after the
 * restart.
 */

import { join } from "node:path";

import type { ScheduleRecord } from "./api-types.js";
import { Expired, type FinalAttempt, Follower, Gone, Stopped, finalAttempt } from "./following.js";
import type { VoicecallClient } from "./client.js";
import type { PluginHost } from "./host.js";
import { PendingFile } from "./pending-file.js";
import { settledReport } from "./results.js";
import { finalReport } from "./schedules.js";

/** An entry is dropped this long after the call was placed, or after the schedule was
 * last due: a call lasts hours at most (calls.maxDurationSeconds ≤ 4 h), so by then its
 * result is long there to read; a schedule's wait before its due time does not count. */
const PENDING_TTL_MS = 7 * 24 * 3600 * 1000;
export const WAKE_REASON = "voicecall-rt:call-settled";

/** Where a call's result goes: the session (and its agent) that placed the call. */
export interface SessionTarget {
  sessionKey: string;
  agentId?: string | undefined;
}

/** One call (or schedule) whose result is still to be delivered. */
export interface PendingCall extends SessionTarget {
  /** The call placed now (none for a call for later). */
  callId?: string | undefined;
  /** The schedule followed to its final attempt: the call's retries, or the call for later. */
  scheduleId?: string | undefined;
  placedAt: number;
  /** When the schedule was last seen due (epoch ms). */
  dueAt?: number | undefined;
}

/** An entry's name in the file and among the watchers: the schedule's id, else the call's. */
function keyOf(entry: PendingCall): string | undefined {
  const key = entry.scheduleId ?? entry.callId;
  return typeof key === "string" && key !== "" ? key : undefined;
}

function stale(entry: PendingCall, now: number): boolean {
  return now - Math.max(entry.placedAt, entry.dueAt ?? 0) > PENDING_TTL_MS;
}

/** Where the undelivered calls are kept, under OpenClaw's state directory. */
export function pendingPath(stateDir: string): string {
  return join(stateDir, "voicecall-rt", "pending-calls.json");
}

interface Watcher {
  controller: AbortController;
  done: Promise<void>;
}

/** What is put into the session, and the key it is grouped under there. */
interface Report {
  text: string;
  about: string;
}

export class ResultPush {
  private readonly watchers = new Map<string, Watcher>();
  private store: PendingFile<PendingCall> | undefined;
  private readonly host: Pick<PluginHost, "runtime" | "logger">;
  private readonly client: () => VoicecallClient;

  constructor(host: Pick<PluginHost, "runtime" | "logger">, client: () => VoicecallClient) {
    this.host = host;
    this.client = client;
  }

  /** Remember a call placed from a session, and watch it until its result is delivered. */
  async track(callId: string, target: SessionTarget): Promise<void> {
    await this.remember({ ...target, callId, placedAt: Date.now() });
  }

  /** Remember a schedule (a call with retries, with its first attempt's `callId`, or a call
   * for later) and follow it until its final attempt's result is delivered. */
  async trackSchedule(
    schedule: ScheduleRecord,
    target: SessionTarget,
    callId?: string,
  ): Promise<void> {
    await this.remember({
      ...target,
      ...(callId ? { callId } : {}),
      scheduleId: schedule.id,
      placedAt: Date.now(),
      dueAt: schedule.due_at,
    });
  }

  /** Stop following a call or schedule and forget it (its result is not wanted here). */
  async forget(id: string): Promise<void> {
    const watcher = this.watchers.get(id);
    if (watcher) {
      watcher.controller.abort();
      await watcher.done;
    }
    await this.pending().delete(id);
  }

  /** Watch again every call whose result was not delivered yet (the service's start);
   * entries past their bound are dropped. */
  async resume(): Promise<string[]> {
    const resumed: string[] = [];
    for (const entry of await this.pending().entries()) {
      const key = keyOf(entry);
      if (key === undefined) continue;
      if (stale(entry, Date.now())) {
        await this.pending().delete(key);
        continue;
      }
      if (this.watchers.has(key)) continue; // placed since this start began
      this.watch(key, entry);
      resumed.push(key);
    }
    return resumed;
  }

  /** End every watcher (the service's stop); what is undelivered stays for `resume`. */
  async stop(): Promise<void> {
    const running = [...this.watchers.values()];
    for (const watcher of running) {
      watcher.controller.abort();
    }
    await Promise.allSettled(running.map((watcher) => watcher.done));
  }

  /** Whether a call (or schedule) is being watched now. */
  watching(id: string): boolean {
    return this.watchers.has(id);
  }

  private async remember(entry: PendingCall): Promise<void> {
    const key = keyOf(entry);
    if (key === undefined) throw new Error("nothing to watch: no call or schedule id");
    await this.pending().register(key, entry);
    this.watch(key, entry);
  }

  private pending(): PendingFile<PendingCall> {
    this.store ??= new PendingFile(
      pendingPath(this.host.runtime.state.resolveStateDir(process.env)),
    );
    return this.store;
  }

  private watch(key: string, entry: PendingCall): void {
    if (this.watchers.has(key)) return;
    const controller = new AbortController();
    const done = this.follow(key, entry, controller.signal)
      .catch((error: unknown) => {
        this.host.logger.error(`voicecall-rt: watching ${key} failed: ${String(error)}`);
      })
      .finally(() => {
        this.watchers.delete(key);
      });
    this.watchers.set(key, { controller, done });
  }

  private async follow(key: string, start: PendingCall, signal: AbortSignal): Promise<void> {
    let entry = start;
    const follower = new Follower({
      client: this.client,
      logger: this.host.logger,
      signal,
      expired: () => stale(entry, Date.now()),
    });
    let report: Report;
    try {
      if (entry.scheduleId !== undefined) {
        const noteDue = async (dueAt: number): Promise<void> => {
          if (dueAt === entry.dueAt) return;
          entry = { ...entry, dueAt };
          await this.pending().register(key, entry);
        };
        report = scheduleReport(await finalAttempt(entry.scheduleId, follower, noteDue));
      } else {
        const view = await follower.settled(key);
        report = { text: settledReport(view), about: view.call.id };
      }
    } catch (error) {
      if (error instanceof Stopped) return;
      if (!(error instanceof Gone || error instanceof Expired)) throw error;
      this.host.logger.warn(`voicecall-rt: ${error.message}; not watching it any more.`);
      await this.pending().delete(key);
      return;
    }
    if (this.deliver(report, entry)) {
      await this.pending().delete(key);
    }
  }

  /** Put the report into the session and wake it. False when the host could not take it
   * now (it stays pending for the next start). */
  private deliver(report: Report, target: SessionTarget): boolean {
    const { system } = this.host.runtime;
    const owner = target.agentId ? { agentId: target.agentId } : {};
    try {
      const accepted = system.enqueueSystemEvent(report.text, {
        sessionKey: target.sessionKey,
        contextKey: `voicecall-rt:${report.about}`,
        ...owner,
      });
      if (!accepted) {
        this.host.logger.warn(
          `voicecall-rt: session ${target.sessionKey} did not take the result of ${report.about}.`,
        );
        return true;
      }
      // What the deprecated requestHeartbeatNow did: an `immediate` wake. An `event` wake
      // waits for the session's next heartbeat tick when it ran recently.
      system.requestHeartbeat({
        source: "other",
        intent: "immediate",
        reason: WAKE_REASON,
        sessionKey: target.sessionKey,
        ...owner,
      });
    } catch (error) {
      this.host.logger.error(
        `voicecall-rt: could not deliver the result of ${report.about}: ${String(error)}`,
      );
      return false;
    }
    return true;
  }
}

function scheduleReport(final: FinalAttempt): Report {
  return {
    text: finalReport(final.schedule, final.view),
    about: final.view?.call.id ?? final.schedule.id,
  };
}
