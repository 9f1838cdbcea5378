/**
 * Calls for later against the real server: make_phone_call with `at` (with an offset, or
 * with `timeZone`) answers with the schedule and dials nothing; get_call takes the
 * schedule's id; a time in the past, an unknown zone and a bad whenAllowed are refused in
 * one sentence. The times are a month ahead, so the server's scheduler never places them
 * while the tests run; each test cancels what it scheduled.
 */

import assert from "node:assert/strict";
import { test } from "node:test";

import { StateDouble } from "./helpers/host-double.ts";
import { SESSION, detailsOf, failedWith, loadPlugin, succeeded, tool } from "./helpers/plugin.ts";
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

test("a call for later answers with its schedule, and get_call follows the schedule", async () => {
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
  assert.equal(details["resultPushed"], false);
  assert.equal(
    text,
    `Scheduled call ${id} to ${world.longNumber} for ${isoSeconds(due)}; nothing has been` +
      " dialled yet. Its result will not arrive here by itself: after that time, use get_call" +
      ` with call_id "${id}" to see how it went. To cancel it, ask the user to run` +
      ` \`voicecall-rt calls cancel ${id}\`.`,
  );

  // Stored for later, for this session, with no call and nothing being watched.
  const stored = (await api("GET", `/api/schedules/${id}`)) as StoredSchedule;
  assert.equal(stored.schedule.due_at, due);
  assert.equal(stored.schedule.notify_session_key, SESSION.sessionKey);
  assert.equal(stored.schedule.last_call_id, null);
  assert.deepEqual(state.pending(), []);

  const got = await tool(host, "get_call").execute("tool-call-2", { call_id: id });
  assert.equal(
    succeeded(got),
    `Scheduled call ${id} to ${world.longNumber} is due at ${isoSeconds(due)} (attempt 1 of 1);` +
      ` it has not been placed yet. To cancel it, ask the user to run \`voicecall-rt calls cancel ${id}\`.`,
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
    new RegExp(`^${id} is a scheduled call, not a live one: .*calls cancel ${id}`),
  );

  await api("DELETE", `/api/schedules/${id}`);
  const canceled = await tool(host, "get_call").execute("tool-call-4", { call_id: id });
  assert.equal(succeeded(canceled), `Scheduled call ${id} to ${world.longNumber} is canceled.`);
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
