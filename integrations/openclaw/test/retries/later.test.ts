/**
 * A call for later placed through the plugin, on a server that retries: its result is
 * pushed once it has run, also when the gateway restarted in between. The plugin reads the
 * schedule again at its due time (a timer, no connection held); see retries.test.ts for
 * the world, whose scheduler places the call as soon as it is stored.
 */

import assert from "node:assert/strict";
import { test } from "node:test";

import { StateDouble } from "../helpers/host-double.ts";
import { SESSION, detailsOf, startGateway, succeeded, tool } from "../helpers/plugin.ts";
import { api, untilAnswered, untilPlaced, world } from "../helpers/server.ts";

test("a call for later is reported when it has run, across a gateway restart", async () => {
  const state = new StateDouble();
  const { host: before, stop: stopBefore } = await startGateway(state);
  const at = new Date(Date.now() + 2000).toISOString();
  const result = await tool(before, "make_phone_call").execute("tool-call-1", {
    to: world.longNumber,
    task: "Hold the line",
    at,
  });
  const text = succeeded(result);
  const id = (detailsOf(result)["call"] as { id: string }).id;
  assert.match(id, /^sched_[0-9a-f]+$/);
  assert.equal(detailsOf(result)["resultPushed"], true);
  assert.ok(
    text.includes(
      " Its result will arrive in this conversation once the call has been made and has ended;" +
        ` you do not need to wait or poll. To cancel it, use cancel_scheduled_call with schedule_id "${id}".`,
    ),
    text,
  );
  assert.deepEqual(state.pending(), [id]);

  // The gateway stops (the far party stays on the line until hung up, so nothing can have
  // been reported); the next start follows the schedule on.
  await stopBefore();
  assert.deepEqual(state.pending(), [id]);
  const { host: after, stop: stopAfter } = await startGateway(state);
  assert.ok(
    after.logs.includes("info: voicecall-rt: watching 1 call(s) placed before the restart."),
    after.logs.join("\n"),
  );

  const callId = await untilPlaced(id);
  await untilAnswered(callId);
  await api("POST", `/api/calls/${callId}/hangup`);
  const event = await after.events.next();
  const [headline, attempt] = event.text.split("\n");
  assert.match(headline ?? "", new RegExp(`^\\[voicecall-rt\\] Call ${callId} to .* has ended`));
  assert.equal(
    attempt,
    `This was attempt 1 of 3 of scheduled call ${id}; the schedule is done: answered.`,
  );
  assert.equal(event.options.sessionKey, SESSION.sessionKey);
  await stopAfter();
  assert.deepEqual(state.pending(), []);
  assert.equal(before.events.all.length, 0);
  assert.equal(after.events.all.length, 1);
});
