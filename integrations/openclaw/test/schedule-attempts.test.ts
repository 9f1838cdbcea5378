/**
 * get_call on a schedule whose latest attempt is a call: that call, and which attempt of
 * the schedule it is; what is pushed when a schedule ends without a call; a list_calls
 * line. The records are made here, shaped as the API's (test/retries/ has the real runs).
 */

import assert from "node:assert/strict";
import { test } from "node:test";

import type { CallView, ScheduleRecord } from "../dist/api-types.js";
import { attemptResult, finalReport, formatDue, scheduleLine } from "../dist/schedules.js";

const SCHEDULE: ScheduleRecord = {
  id: "sched_0123456789abcdef",
  to_number: "+14155550162",
  task: "Ask about the opening hours",
  due_at: Date.parse("2026-12-07T17:00:00Z"),
  state: "waiting",
  attempts_made: 2,
  max_attempts: 3,
  when_allowed: false,
  last_call_id: "call_00000000000000b2",
  reason: null,
};

const VIEW: CallView = {
  call: {
    id: "call_00000000000000b2",
    direction: "outbound",
    from_number: "+14155550100",
    to_number: "+14155550162",
    task: "Ask about the opening hours",
    status: "ringing",
    created_at: Date.parse("2026-12-07T17:00:01Z"),
    ended_at: null,
    end_reason: null,
    answered_by: null,
    outcome: null,
    error: null,
    notify_session_key: null,
    duration_s: null,
    cost: { total_usd: 0, currency: "USD", priced: true },
  },
  active: true,
  transcript: [],
};

test("a live attempt of a schedule: the call, then which attempt and how to cancel the rest", () => {
  const { text, details } = attemptResult(SCHEDULE, VIEW);
  assert.equal(
    text,
    "Call call_00000000000000b2 to +14155550162 is ringing.\nTask: Ask about the opening hours\n" +
      'Use hang_up with call_id "call_00000000000000b2" to end it.\n' +
      "This is attempt 2 of 3 of scheduled call sched_0123456789abcdef; if it does not get" +
      " through, another may follow. To cancel it, use cancel_scheduled_call with schedule_id" +
      ' "sched_0123456789abcdef".',
  );
  assert.equal((details["call"] as { id: string }).id, "call_00000000000000b2");
  assert.equal((details["schedule"] as { state: string }).state, "waiting");
});

test("the last attempt of a schedule that is over: the call, then why the schedule ended", () => {
  const done: ScheduleRecord = {
    ...SCHEDULE,
    state: "done",
    attempts_made: 3,
    reason: "attempts exhausted: 3 of 3, last busy",
  };
  const ended: CallView = {
    ...VIEW,
    call: { ...VIEW.call, status: "busy", end_reason: "busy", ended_at: VIEW.call.created_at },
    active: false,
  };
  const { text } = attemptResult(done, ended);
  assert.ok(
    text.endsWith(
      "\nThis is attempt 3 of 3 of scheduled call sched_0123456789abcdef; the schedule is done:" +
        " attempts exhausted: 3 of 3, last busy.",
    ),
    text,
  );
});

test("a due time in the zone the agent gave, or in UTC alone when there is none", () => {
  const due = Date.parse("2026-12-07T17:00:00Z");
  assert.equal(formatDue(due), "2026-12-07T17:00:00Z");
  assert.equal(
    formatDue(due, "America/Los_Angeles"),
    "2026-12-07 09:00 America/Los_Angeles (2026-12-07T17:00:00Z)",
  );
});

test("a schedule over without a call: pushed as why, in our own words only", () => {
  const failed: ScheduleRecord = {
    ...SCHEDULE,
    state: "failed",
    attempts_made: 0,
    last_call_id: null,
    reason: "blocked: +14155550162 is on the do-not-call list",
  };
  assert.equal(
    finalReport(failed, undefined),
    "[voicecall-rt] Scheduled call sched_0123456789abcdef to +14155550162 is failed: blocked:" +
      " +14155550162 is on the do-not-call list.",
  );
});

test("list_calls lines: a schedule due later, and one whose attempt is live", () => {
  assert.equal(
    scheduleLine({ ...SCHEDULE, state: "pending", attempts_made: 1 }),
    "sched_0123456789abcdef scheduled +14155550162 pending: attempt 2 of 3 due" +
      " 2026-12-07T17:00:00Z — Ask about the opening hours",
  );
  assert.equal(
    scheduleLine(SCHEDULE),
    "sched_0123456789abcdef scheduled +14155550162 waiting: attempt 2 of 3 is call" +
      " call_00000000000000b2 — Ask about the opening hours",
  );
});
