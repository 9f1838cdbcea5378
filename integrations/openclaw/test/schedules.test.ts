/**
 * Calls for later against the real server: make_phone_call with `at` (with an offset, or
 * with `timeZone`) answers with the schedule and dials nothing, and the plugin follows the
 * schedule to push its result; get_call and list_calls show it, cancel_scheduled_call
 * cancels it (and the plugin forgets it); a time in the past, an unknown zone and a bad
 * whenAllowed are refused in one sentence. The times are a month ahead, so the server's
 * scheduler never places them while the tests run; each test cancels what it scheduled.
 * (test/retries/ has a call for later that runs.)
 */

import assert from "node:assert/strict";
import { test } from "node:test";

import { StateDouble } from "./helpers/host-double.ts";
import {
  SESSION,
  detailsOf,
  failedWith,
  loadPlugin,
  pushOf,
  succeeded,
  tool,
} from "./helpers/plugin.ts";
import { api, world } from "./helpers/server.ts";

const DAY_MS = 24 * 3600 * 1000;

interface StoredSchedule {
  schedule: {
    id: string;
    state: string;
    due_at: number;
    to_number: string;
    notify_session_key: string | null;
    last_call_id: string | null;
  };
}

function escaped(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function isoSeconds(epochMs: number): string {
  return new Date(epochMs).toISOString().replace(/\.\d{3}Z$/, "Z");
}

test("a call for later answers with its schedule, is followed, listed and canceled", async () => {
  const state = new StateDouble();
  const host = loadPlugin(undefined, { state });
  const due = Math.floor(Date.now() / 1000) * 1000 + 30 * DAY_MS;
  const result = await tool(host, "make_phone_call").execute("tool-call-1", {
    to: world.longNumber,
    task: "Ask about the opening hours",
    at: isoSeconds(due),
  });
  const text = succeeded(result);
  const details = detailsOf(result);
  const call = details["call"] as { id: string; status: string; to: string };
  assert.match(call.id, /^sched_[0-9a-f]+$/);
  const id = call.id;
  assert.equal(call.status, "scheduled");
  assert.equal((details["schedule"] as { state: string }).state, "pending");
  assert.equal(details["resultPushed"], true);
  assert.equal(
    text,
    `Scheduled call ${id} to ${world.longNumber} for ${isoSeconds(due)}; nothing has been` +
      " dialled yet. Its result will arrive in this conversation once the call has been made" +
      " and has ended; you do not need to wait or poll. To cancel it, use" +
      ` cancel_scheduled_call with schedule_id "${id}".`,
  );

  // Stored for later, for this session, with no call; the plugin follows it until then.
  const stored = (await api("GET", `/api/schedules/${id}`)) as StoredSchedule;
  assert.equal(stored.schedule.due_at, due);
  assert.equal(stored.schedule.notify_session_key, SESSION.sessionKey);
  assert.equal(stored.schedule.last_call_id, null);
  assert.deepEqual(state.pending(), [id]);
  assert.ok(pushOf(host).watching(id));

  const got = await tool(host, "get_call").execute("tool-call-2", { call_id: id });
  assert.equal(
    succeeded(got),
    `Scheduled call ${id} to ${world.longNumber} is due at ${isoSeconds(due)} (attempt 1 of 1);` +
      ` it has not been placed yet. To cancel it, use cancel_scheduled_call with schedule_id "${id}".`,
  );
  assert.deepEqual(detailsOf(got)["call"], {
    id,
    status: "scheduled",
    active: false,
    number: world.longNumber,
  });

  // hang_up is for live calls: it says what to use for a schedule instead.
  const hangUp = failedWith(await tool(host, "hang_up").execute("tool-call-3", { call_id: id }));
  assert.match(
    hangUp,
    new RegExp(
      `^${id} is a scheduled call, not a live one: .*cancel_scheduled_call with schedule_id "${id}"`,
    ),
  );

  const listed = succeeded(await tool(host, "list_calls").execute("tool-call-6", { limit: 200 }));
  assert.ok(
    listed
      .split("\n")
      .includes(
        `${id} scheduled ${world.longNumber} pending: attempt 1 of 1 due ${isoSeconds(due)} —` +
          " Ask about the opening hours",
      ),
    listed,
  );
  assert.ok(
    (
      detailsOf(await tool(host, "list_calls").execute("tool-call-7", {}))["scheduled"] as Array<{
        id: string;
      }>
    ).some((each) => each.id === id),
  );

  // Canceled with the tool: never placed, so the plugin has nothing left to report.
  const cancel = tool(host, "cancel_scheduled_call");
  const canceledNow = await cancel.execute("tool-call-8", { schedule_id: id });
  assert.equal(
    succeeded(canceledNow),
    `Scheduled call ${id} to ${world.longNumber} is canceled: it will not be placed.`,
  );
  assert.deepEqual(detailsOf(canceledNow)["call"], {
    id,
    status: "canceled",
    active: false,
    number: world.longNumber,
  });
  assert.ok(!pushOf(host).watching(id));
  assert.deepEqual(state.pending(), []);
  assert.equal(
    failedWith(await cancel.execute("tool-call-9", { schedule_id: id })),
    `Scheduled call ${id} is canceled already: nothing to cancel.`,
  );
  assert.equal(
    failedWith(await cancel.execute("tool-call-10", { schedule_id: "sched_0123456789abcdef" })),
    "There is no scheduled call with id sched_0123456789abcdef.",
  );
  assert.equal(
    failedWith(await cancel.execute("tool-call-11", { schedule_id: "call_0123456789abcdef" })),
    '"call_0123456789abcdef" is not a scheduled call\'s id (they look like sched_0123456789abcdef).',
  );
  const canceled = await tool(host, "get_call").execute("tool-call-4", { call_id: id });
  assert.equal(succeeded(canceled), `Scheduled call ${id} to ${world.longNumber} is canceled.`);
  assert.equal(host.events.all.length, 0);
  assert.equal(
    failedWith(
      await tool(host, "get_call").execute("tool-call-5", { call_id: "sched_0123456789abcdef" }),
    ),
    "There is no scheduled call with id sched_0123456789abcdef.",
  );
});

test("an `at` without offset is read in timeZone, and the due time is shown there too", async () => {
  const host = loadPlugin();
  const day = new Date(Date.now() + 30 * DAY_MS).toISOString().slice(0, 10);
  const result = await tool(host, "make_phone_call").execute("tool-call-1", {
    to: world.longNumber,
    task: "Ask about the opening hours",
    at: `${day}T09:30:00`,
    timeZone: "America/New_York",
  });
  const text = succeeded(result);
  const id = (detailsOf(result)["call"] as { id: string }).id;
  const stored = (await api("GET", `/api/schedules/${id}`)) as StoredSchedule;
  const local = `${day} 09:30 America/New_York (${isoSeconds(stored.schedule.due_at)})`;
  assert.ok(text.startsWith(`Scheduled call ${id} to ${world.longNumber} for ${local};`), text);
  // 09:30 in New York is 13:30 or 14:30 UTC, whichever the date's offset makes it.
  assert.match(isoSeconds(stored.schedule.due_at), new RegExp(`^${day}T1[34]:30:00Z$`));
  await api("DELETE", `/api/schedules/${id}`);
});

test("a time in the past, an unknown zone or a bad whenAllowed: one sentence, nothing stored", async () => {
  const host = loadPlugin();
  const place = tool(host, "make_phone_call");
  const task = "Call about yesterday's order";
  const past = failedWith(
    await place.execute("tool-call-1", { to: world.longNumber, task, at: "2020-01-06T09:00:00Z" }),
  );
  assert.match(
    past,
    new RegExp(
      `^${escaped("The call was not placed: the time asked for (at), 2020-01-06 09:00:00 UTC, is in the past")}` +
        ` \\(it is now \\d\\d:\\d\\d:\\d\\d UTC\\): give a time still to come, or leave at out to call now\\.$`,
    ),
  );

  const zone = failedWith(
    await place.execute("tool-call-2", {
      to: world.longNumber,
      task,
      at: "2099-01-06T09:00:00",
      timeZone: "Mars/Olympus_Mons",
    }),
  );
  assert.equal(
    zone,
    "The call was not placed: timeZone: unknown time zone 'Mars/Olympus_Mons': use an IANA" +
      " name such as 'America/New_York'.",
  );

  assert.equal(
    failedWith(
      await place.execute("tool-call-3", { to: world.longNumber, task, whenAllowed: "yes" }),
    ),
    "whenAllowed must be true or false; the call was not placed.",
  );

  const listed = (await api("GET", "/api/schedules?limit=200")) as {
    schedules: Array<{ task: string }>;
  };
  assert.ok(
    listed.schedules.every((each) => each.task !== task),
    "a refused call was stored",
  );
});
