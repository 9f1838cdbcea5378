/**
 * Scheduled calls as the agent reads them: make_phone_call with `at`, or with `whenAllowed`
 * outside the callee's calling hours, stores a schedule (id `sched_…`) and no call yet; a
 * call placed now on a server that retries (calls.retry.attempts > 1) comes with one too.
 * get_call, list_calls and cancel_scheduled_call take them (docs/business.md §Retries and
 * scheduled calls). Everything here is our server's own record, never words from a call
 * (those come fenced, from results.ts).
 */

import type { CallRecord, CallView, ScheduleRecord, ScheduleState } from "./api-types.js";
import { ApiError, notPlaced } from "./client.js";
import { callDetails, callText, clip, settledReport } from "./results.js";

export const SCHEDULE_PREFIX = "sched_";

/** What make_phone_call asked for about the time, to word its answer. */
export interface AskedTime {
  at?: string | undefined;
  timeZone?: string | undefined;
}

export function live(state: ScheduleState): boolean {
  return state === "pending" || state === "placing" || state === "waiting";
}

function utc(epochMs: number): string {
  return new Date(epochMs).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** `2026-03-02T17:30:00Z`, or `2026-03-02 09:30 America/Los_Angeles (2026-03-02T17:30:00Z)`
 * when the agent gave a zone (the server accepted it, so the host knows it too). */
export function formatDue(epochMs: number, zone?: string): string {
  if (!zone) return utc(epochMs);
  let parts: Record<string, string>;
  try {
    const format = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    });
    parts = Object.fromEntries(format.formatToParts(epochMs).map((p) => [p.type, p.value]));
  } catch {
    return utc(epochMs); // a zone this Node's ICU does not know
  }
  const local = `${parts["year"]}-${parts["month"]}-${parts["day"]} ${parts["hour"]}:${parts["minute"]}`;
  return `${local} ${zone} (${utc(epochMs)})`;
}

function cancelHint(id: string): string {
  return `To cancel it, use cancel_scheduled_call with schedule_id "${id}".`;
}

/** How the agent learns the result: pushed here, or by asking. */
function followUp(id: string, pushed: boolean): string {
  return pushed
    ? "Its result will arrive in this conversation once the call has been made and has ended;" +
        " you do not need to wait or poll."
    : "Its result will not arrive here by itself: after that time, use get_call with" +
        ` call_id "${id}" to see how it went.`;
}

/** `: attempts exhausted: 3 of 3, last busy`; nothing when the reason only repeats the
 * state (a cancel's is `canceled`). */
function why(schedule: ScheduleRecord): string {
  return schedule.reason && schedule.reason !== schedule.state ? `: ${schedule.reason}` : "";
}

function retries(schedule: ScheduleRecord): string {
  return schedule.max_attempts > 1
    ? ` If it does not get through, it is tried again (${schedule.max_attempts} attempts in all).`
    : "";
}

/** When the server moved an `at` that carries its own offset (whenAllowed: outside the
 * callee's calling hours then). A time without an offset is not compared: JavaScript
 * would read it in this machine's zone. */
function moved(at: string | undefined, dueAt: number): boolean {
  if (at === undefined || !/(Z|[+-]\d\d:?\d\d)$/i.test(at)) return false;
  const asked = Date.parse(at);
  return !Number.isNaN(asked) && Math.abs(asked - dueAt) > 1000;
}

/** make_phone_call's answer when the call was stored for later; `pushed` when its result
 * will be put into the conversation. */
export function scheduledAnswer(
  schedule: ScheduleRecord,
  asked: AskedTime,
  pushed: boolean,
): string {
  const { id, to_number: to } = schedule;
  const due = formatDue(schedule.due_at, asked.timeZone);
  const first =
    asked.at === undefined
      ? `The callee's calling hours do not allow a call to ${to} now, so it is scheduled for` +
        ` the next allowed time, ${due}, as ${id}; nothing has been dialled yet.`
      : `Scheduled call ${id} to ${to} for ${due}` +
        `${moved(asked.at, schedule.due_at) ? " (the callee's calling hours did not allow the time asked for)" : ""}` +
        "; nothing has been dialled yet.";
  return `${first}${retries(schedule)} ${followUp(id, pushed)} ${cancelHint(id)}`;
}

/** make_phone_call's answer for a call placed now on a server that retries: the agent must
 * not dial again while the server does. */
export function retriedAnswer(call: CallRecord, schedule: ScheduleRecord, pushed: boolean): string {
  const { id } = schedule;
  const next = pushed
    ? "The final attempt's result will arrive in this conversation; you do not need to wait or poll."
    : `Its result will not arrive here by itself: check on it later with get_call (call_id "${id}" shows the latest attempt).`;
  return (
    `Placed call ${call.id} to ${call.to_number} (status: ${call.status}). If it does not get` +
    ` through, the server calls again by itself, up to ${schedule.max_attempts} attempts in all` +
    ` (scheduled call ${id}): do not place it again yourself. ${next} To stop the retries, use` +
    ` cancel_scheduled_call with schedule_id "${id}".`
  );
}

/** The part of a tool result's `details` about a schedule. */
export function scheduleDetails(schedule: ScheduleRecord): Record<string, unknown> {
  return {
    id: schedule.id,
    state: schedule.state,
    due_at: utc(schedule.due_at),
    attempts_made: schedule.attempts_made,
    max_attempts: schedule.max_attempts,
    last_call_id: schedule.last_call_id,
    reason: schedule.reason,
  };
}

/** A schedule with no call to show: still to be placed (the first attempt, or a retry),
 * or over without one. Its `details.call` is the schedule, as the MCP tool's is. */
export function scheduleResult(schedule: ScheduleRecord): {
  text: string;
  details: Record<string, unknown>;
} {
  const { id, to_number: to, state } = schedule;
  const last = schedule.last_call_id ? ` Its last attempt was call ${schedule.last_call_id}.` : "";
  let text: string;
  if (live(state)) {
    const attempt = `attempt ${schedule.attempts_made + 1} of ${schedule.max_attempts}`;
    const when =
      state === "pending"
        ? `is due at ${utc(schedule.due_at)}`
        : `is being placed (due ${utc(schedule.due_at)})`;
    text = `Scheduled call ${id} to ${to} ${when} (${attempt}); it has not been placed yet.${last} ${cancelHint(id)}`;
  } else {
    text = `Scheduled call ${id} to ${to} is ${state}${why(schedule)}.${last}`;
  }
  return {
    text,
    details: {
      call: { id, status: live(state) ? "scheduled" : state, active: false, number: to },
      schedule: scheduleDetails(schedule),
    },
  };
}

/** A schedule whose latest attempt is a call: that call as get_call shows it, and which
 * attempt of the schedule it is. */
export function attemptResult(
  schedule: ScheduleRecord,
  view: CallView,
): { text: string; details: Record<string, unknown> } {
  const after = live(schedule.state)
    ? `; if it does not get through, another may follow. ${cancelHint(schedule.id)}`
    : `; ${over(schedule)}`;
  return {
    text: `${callText(view)}\n${attemptOf(schedule, "is")}${after}`,
    details: { ...callDetails(view), schedule: scheduleDetails(schedule) },
  };
}

function attemptOf(schedule: ScheduleRecord, tense: "is" | "was"): string {
  const { attempts_made: made, max_attempts: max, id } = schedule;
  return `This ${tense} attempt ${made} of ${max} of scheduled call ${id}`;
}

function over(schedule: ScheduleRecord): string {
  return `the schedule is ${schedule.state}${why(schedule)}.`;
}

/** What is put into the session once a followed schedule is over: its last attempt's
 * report and which attempt it was, or why no call was made. */
export function finalReport(schedule: ScheduleRecord, view: CallView | undefined): string {
  if (view === undefined) return `[voicecall-rt] ${scheduleResult(schedule).text}`;
  return settledReport(view, `${attemptOf(schedule, "was")}; ${over(schedule)}`);
}

/** One line of list_calls for a live schedule. */
export function scheduleLine(schedule: ScheduleRecord): string {
  const { id, to_number: to, state } = schedule;
  const where =
    state === "waiting" && schedule.last_call_id
      ? `attempt ${schedule.attempts_made} of ${schedule.max_attempts} is call ${schedule.last_call_id}`
      : `attempt ${schedule.attempts_made + 1} of ${schedule.max_attempts} due ${utc(schedule.due_at)}`;
  const task = schedule.task ? ` — ${clip(schedule.task, 120)}` : "";
  return `${id} scheduled ${to} ${state}: ${where}${task}`;
}

/** cancel_scheduled_call's answer: what is stopped, and what goes on. */
export function canceledAnswer(schedule: ScheduleRecord, pushed: boolean): string {
  const { id, to_number: to, last_call_id: last } = schedule;
  const head = `Scheduled call ${id} to ${to} is canceled`;
  if (last === null) return `${head}: it will not be placed.`;
  const after = pushed
    ? ` The result of call ${last}, its last attempt, will arrive in this conversation when` +
      " that call has ended (hang_up ends it if it is still live)."
    : ` Its last attempt, call ${last}, is not affected (hang_up ends it if it is still live).`;
  return `${head}: no further attempt will follow.${after}`;
}

/** A refusal of make_phone_call as one sentence, with what to change when it is about
 * the time: the server's words are the CLI's (`--when-allowed`), the agent's are `at`
 * and `whenAllowed`. */
export function placeRefusal(error: ApiError): string {
  let reason = error.message.replace(/[.\s]+$/, "");
  if (error.code === "outside-calling-hours") {
    reason = reason.replace(
      /;\s*add --when-allowed to schedule it then$/,
      "; to have it placed then, make the call again with whenAllowed: true",
    );
  } else if (error.code === "invalid-time") {
    const past = /^at: (.+) is in the past \(now ([\d:]+)\)$/.exec(reason);
    if (past) {
      reason =
        `the time asked for (at), ${past[1]}, is in the past (it is now ${past[2]} UTC):` +
        " give a time still to come, or leave at out to call now";
    }
  }
  return notPlaced(new ApiError(reason, error.kind, error.status, error.code));
}
