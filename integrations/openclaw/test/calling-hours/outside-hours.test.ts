/**
 * Calling hours, against a server whose `calls.hours` do not allow a call to the test
 * numbers at its (fixed) clock: tests/integration/test_openclaw_plugin.py runs this folder
 * on a world of its own and says, in the environment, when the hours next allow a call. A
 * call now is refused with that time and how to have it placed then; with whenAllowed it is
 * scheduled for that time instead.
 */

import assert from "node:assert/strict";
import { test } from "node:test";

import { detailsOf, failedWith, loadPlugin, succeeded, tool } from "../helpers/plugin.ts";
import { api, required, world } from "../helpers/server.ts";

/** As the server words it: "Mon 2026-12-07 09:00 America/Los_Angeles (17:00 UTC)". */
const NEXT_ALLOWED = required("VOICECALL_RT_NEXT_ALLOWED");
/** The same moment, as make_phone_call shows a due time: "2026-12-07T17:00:00Z". */
const NEXT_ALLOWED_UTC = required("VOICECALL_RT_NEXT_ALLOWED_UTC");
const TASK = "Ask about the opening hours";

function followUp(id: string): string {
  return (
    " Its result will arrive in this conversation once the call has been made and has ended;" +
    ` you do not need to wait or poll. To cancel it, use cancel_scheduled_call with schedule_id "${id}".`
  );
}

test("outside calling hours: refused with the next allowed time and how to wait for it", async () => {
  const host = loadPlugin();
  const refused = failedWith(
    await tool(host, "make_phone_call").execute("tool-call-1", {
      to: world.longNumber,
      task: TASK,
    }),
  );
  assert.equal(
    refused,
    `The call was not placed: outside calling hours for ${world.longNumber.slice(0, 5)}…: next` +
      ` allowed ${NEXT_ALLOWED}; to have it placed then, make the call again with whenAllowed: true.`,
  );
});

test("whenAllowed: the call is scheduled for the next allowed time", async () => {
  const host = loadPlugin();
  const place = tool(host, "make_phone_call");
  const now = await place.execute("tool-call-1", {
    to: world.longNumber,
    task: TASK,
    whenAllowed: true,
  });
  const nowId = (detailsOf(now)["call"] as { id: string }).id;
  assert.equal(
    succeeded(now),
    `The callee's calling hours do not allow a call to ${world.longNumber} now, so it is` +
      ` scheduled for the next allowed time, ${NEXT_ALLOWED_UTC}, as ${nowId}; nothing has been` +
      ` dialled yet.${followUp(nowId)}`,
  );

  // An `at` the hours do not allow either: moved to their next opening, and said so.
  const at = new Date(Date.parse(NEXT_ALLOWED_UTC) - 3600 * 1000).toISOString();
  const later = await place.execute("tool-call-2", {
    to: world.longNumber,
    task: TASK,
    at,
    whenAllowed: true,
  });
  const laterId = (detailsOf(later)["call"] as { id: string }).id;
  assert.equal(
    succeeded(later),
    `Scheduled call ${laterId} to ${world.longNumber} for ${NEXT_ALLOWED_UTC} (the callee's` +
      ` calling hours did not allow the time asked for); nothing has been dialled yet.` +
      followUp(laterId),
  );
  for (const id of [nowId, laterId]) await api("DELETE", `/api/schedules/${id}`);
});
