/**
 * Pushing a call's result into the session that placed it.
 *
 * `make_phone_call` returns at once; this watches the call by long-polling the server in
 * bounded steps (never one open-ended request) and, once the call has settled, puts the
 * report into that session as a system event and wakes the session. Calls being watched
 * are kept in a file (pending-file.ts) until their result is delivered, so a gateway
 * restart (or a plugin reload) resumes them, including a call that ended while the
 * gateway was down. Delivery is at least once: a crash between the push and the store's
 * update pushes the same report again after the restart.
 */

import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";

import type { CallView } from "./api-types.js";
import { ApiError, type VoicecallClient } from "./client.js";
import type { PluginHost } from "./host.js";
import { PendingFile } from "./pending-file.js";
import { settledReport } from "./results.js";

/** Each long poll asks the server to hold the answer this long (its limit is 60 s). */
export const POLL_WAIT_S = 50;
/** Calls last at most hours (calls.maxDurationSeconds ≤ 4 h): a week-old entry is stale. */
const PENDING_TTL_MS = 7 * 24 * 3600 * 1000;
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 60_000;
export const WAKE_REASON = "voicecall-rt:call-settled";

/** Where a call's result goes: the session (and its agent) that placed the call. */
export interface SessionTarget {
  sessionKey: string;
  agentId?: string | undefined;
}

export interface PendingCall extends SessionTarget {
  callId: string;
  placedAt: number;
}

/** Where the undelivered calls are kept, under OpenClaw's state directory. */
export function pendingPath(stateDir: string): string {
  return join(stateDir, "voicecall-rt", "pending-calls.json");
}

interface Watcher {
  controller: AbortController;
  done: Promise<void>;
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
    await this.pending().register(callId, { ...target, callId, placedAt: Date.now() });
    this.watch(callId, target);
  }

  /** Watch again every call whose result was not delivered yet (the service's start);
   * entries older than any call can last are dropped. */
  async resume(): Promise<string[]> {
    const resumed: string[] = [];
    for (const entry of await this.pending().entries()) {
      if (Date.now() - entry.placedAt > PENDING_TTL_MS) {
        await this.pending().delete(entry.callId);
        continue;
      }
      if (this.watchers.has(entry.callId)) continue; // placed since this start began
      this.watch(entry.callId, entry);
      resumed.push(entry.callId);
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

  /** Whether a call is being watched now. */
  watching(callId: string): boolean {
    return this.watchers.has(callId);
  }

  private pending(): PendingFile<PendingCall> {
    this.store ??= new PendingFile(
      pendingPath(this.host.runtime.state.resolveStateDir(process.env)),
    );
    return this.store;
  }

  private watch(callId: string, target: SessionTarget): void {
    if (this.watchers.has(callId)) return;
    const controller = new AbortController();
    const done = this.follow(callId, target, controller.signal)
      .catch((error: unknown) => {
        this.host.logger.error(`voicecall-rt: watching call ${callId} failed: ${String(error)}`);
      })
      .finally(() => {
        this.watchers.delete(callId);
      });
    this.watchers.set(callId, { controller, done });
  }

  private async follow(callId: string, target: SessionTarget, signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      let view: CallView;
      try {
        view = await this.client().getCall(callId, { waitS: POLL_WAIT_S, signal });
      } catch (error) {
        if (signal.aborted) return;
        if (error instanceof ApiError && error.kind === "not-found") {
          this.host.logger.warn(`voicecall-rt: the server has no call ${callId}; not watching it.`);
          await this.pending().delete(callId);
          return;
        }
        failures += 1;
        if (failures === 1 || failures % 10 === 0) {
          const message = error instanceof ApiError ? error.message : String(error);
          this.host.logger.warn(`voicecall-rt: still waiting for call ${callId}: ${message}`);
        }
        const backoff = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** (failures - 1));
        try {
          await delay(backoff, undefined, { signal });
        } catch {
          return; // stopped while waiting to retry
        }
        continue;
      }
      failures = 0;
      if (!view.active) {
        if (this.deliver(view, target)) {
          await this.pending().delete(callId);
        }
        return;
      }
    }
  }

  /** Put the report into the session and wake it. False when the host could not take it
   * now (it stays pending for the next start). */
  private deliver(view: CallView, target: SessionTarget): boolean {
    const { system } = this.host.runtime;
    const owner = target.agentId ? { agentId: target.agentId } : {};
    try {
      const accepted = system.enqueueSystemEvent(settledReport(view), {
        sessionKey: target.sessionKey,
        contextKey: `voicecall-rt:${view.call.id}`,
        ...owner,
      });
      if (!accepted) {
        this.host.logger.warn(
          `voicecall-rt: session ${target.sessionKey} did not take the result of call ${view.call.id}.`,
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
        `voicecall-rt: could not deliver the result of call ${view.call.id}: ${String(error)}`,
      );
      return false;
    }
    return true;
  }
}
