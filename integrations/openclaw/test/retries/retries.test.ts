/**
 * Against a server that retries a call that does not get through (calls.retry.attempts 3):
 * tests/integration/test_openclaw_plugin.py runs this folder on a world of its own, whose
 * scheduler places each attempt as soon as it is due and whose clock is behind this one,
 * so no retry's backoff is waited for, here or there. Only the final attempt's result is
 * pushed, saying which attempt it was; cancel_scheduled_call stops the retries.
 */

import assert from "node:assert/strict";
import { test } from "node:test";

import { StateDouble } from "../helpers/host-double.ts";
import {
  SESSION,
  detailsOf,
  failedWith,
  loadPlugin,
  serviceContext,
  succeeded,
  tool,
} from "../helpers/plugin.ts";
import { api, required, untilAnswered, world } from "../helpers/server.ts";

const BUSY_THEN_ANSWERED = required("VOICECALL_RT_BUSY_THEN_ANSWERED_NUMBER");
const ALWAYS_BUSY = required("VOICECALL_RT_ALWAYS_BUSY_NUMBER");
const TASK = "Confirm the delivery slot for tomorrow";

interface ScheduleDetail {
  schedule: { id: string; state: string; attempts_made: number; reason: string | null };
  attempts: Array<{ attempt: number; call_id: string; status: string }>;
}

function escaped(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** make_phone_call on this server: the call placed now, and the schedule of its retries. */
async function placeRetried(
  host: ReturnType<typeof loadPlugin>,
  to: string,
): Promise<{ callId: string; scheduleId: string; text: string }> {
  const result = await tool(host, "make_phone_call").execute("tool-call-1", { to, task: TASK });
  const text = succeeded(result);
  const details = detailsOf(result);
  const callId = (details["call"] as { id: string }).id;
  const schedule = details["schedule"] as { id: string; max_attempts: number; state: string };
  assert.equal(schedule.max_attempts, 3);
  assert.equal(details["resultPushed"], true);
  return { callId, scheduleId: schedule.id, text };
}

test("busy, then answered: only the final attempt's result is pushed, saying which it was", async (t) => {
  const state = new StateDouble();
  const host = loadPlugin(undefined, { state });
  const { callId, scheduleId, text } = await placeRetried(host, BUSY_THEN_ANSWERED);
  assert.match(
    text,
    new RegExp(
      `^Placed call ${callId} to ${escaped(BUSY_THEN_ANSWERED)} \\(status: [a-z-]+\\)\\. If it` +
        " does not get through, the server calls again by itself, up to 3 attempts in all" +
        ` \\(scheduled call ${scheduleId}\\): do not place it again yourself\\. The final` +
        " attempt's result will arrive in this conversation; you do not need to wait or poll\\." +
        ` To stop the retries, use cancel_scheduled_call with schedule_id "${scheduleId}"\\.$`,
    ),
  );
  assert.deepEqual(state.pending(), [scheduleId]); // followed through its schedule

  // The first event pushed is the second attempt's: nothing came of the busy one.
  const event = await host.events.next();
  t.diagnostic(`pushed into ${event.options.sessionKey}:\n${event.text}`);
  const detail = (await api("GET", `/api/schedules/${scheduleId}`)) as ScheduleDetail;
  assert.deepEqual(
    detail.attempts.map((each) => [each.attempt, each.status]),
    [
      [1, "busy"],
      [2, "completed"],
    ],
  );
  assert.equal(detail.attempts[0]?.call_id, callId);
  const final = detail.attempts[1]?.call_id ?? "";
  const lines = event.text.split("\n");
  assert.match(
    lines[0] ?? "",
    new RegExp(
      `^\\[voicecall-rt\\] Call ${final} to ${escaped(BUSY_THEN_ANSWERED)} has ended \\(completed`,
    ),
  );
  assert.equal(
    lines[1],
    `This was attempt 2 of 3 of scheduled call ${scheduleId}; the schedule is done: answered.`,
  );
  assert.ok(event.text.endsWith(`use get_call with call_id "${final}".`), event.text);
  assert.equal(event.options.sessionKey, SESSION.sessionKey);
  assert.equal(event.options.contextKey, `voicecall-rt:${final}`);

  await host.services[0]?.stop?.(serviceContext(host));
  assert.equal(host.events.all.length, 1);
  assert.equal(host.wakes.length, 1);
  assert.deepEqual(state.pending(), []);
});

test("busy every time: one report, after the last attempt, with why it stopped", async () => {
  const host = loadPlugin();
  const { scheduleId } = await placeRetried(host, ALWAYS_BUSY);
  const event = await host.events.next();
  const detail = (await api("GET", `/api/schedules/${scheduleId}`)) as ScheduleDetail;
  assert.deepEqual(
    detail.attempts.map((each) => each.status),
    ["busy", "busy", "busy"],
  );
  const [headline, attempt] = event.text.split("\n");
  assert.match(
    headline ?? "",
    new RegExp(`^\\[voicecall-rt\\] Call ${detail.attempts[2]?.call_id} .* has ended \\(busy\\)`),
  );
  assert.equal(
    attempt,
    `This was attempt 3 of 3 of scheduled call ${scheduleId}; the schedule is done:` +
      " attempts exhausted: 3 of 3, last busy.",
  );
  await host.services[0]?.stop?.(serviceContext(host));
  assert.equal(host.events.all.length, 1);
});

test("cancel_scheduled_call during an attempt: no retry follows, and that attempt is still reported", async () => {
  const host = loadPlugin();
  const { callId, scheduleId } = await placeRetried(host, world.longNumber);
  await untilAnswered(callId);

  // list_calls shows the schedule beside its live attempt.
  const listed = succeeded(await tool(host, "list_calls").execute("tool-call-2", {}));
  assert.ok(
    listed
      .split("\n")
      .includes(
        `${scheduleId} scheduled ${world.longNumber} waiting: attempt 1 of 3 is call ${callId} — ${TASK}`,
      ),
    listed,
  );

  const cancel = tool(host, "cancel_scheduled_call");
  const canceled = await cancel.execute("tool-call-3", { schedule_id: scheduleId });
  assert.equal(
    succeeded(canceled),
    `Scheduled call ${scheduleId} to ${world.longNumber} is canceled: no further attempt will` +
      ` follow. The result of call ${callId}, its last attempt, will arrive in this conversation` +
      " when that call has ended (hang_up ends it if it is still live).",
  );
  assert.equal((detailsOf(canceled)["schedule"] as { state: string }).state, "canceled");
  assert.equal(
    failedWith(await cancel.execute("tool-call-4", { schedule_id: scheduleId })),
    `Scheduled call ${scheduleId} is canceled already: nothing to cancel.`,
  );

  // The call went on; once it ends, it is reported as the schedule's last attempt.
  succeeded(await tool(host, "hang_up").execute("tool-call-5", { call_id: callId }));
  const event = await host.events.next();
  const [headline, attempt] = event.text.split("\n");
  assert.match(headline ?? "", new RegExp(`^\\[voicecall-rt\\] Call ${callId} .* has ended`));
  assert.equal(
    attempt,
    `This was attempt 1 of 3 of scheduled call ${scheduleId}; the schedule is canceled.`,
  );
  const detail = (await api("GET", `/api/schedules/${scheduleId}`)) as ScheduleDetail;
  assert.equal(detail.attempts.length, 1);
});
