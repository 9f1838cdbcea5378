/**
 * A gateway restart loses no result: calls placed before it are watched again when the
 * service starts, including one that ended while the gateway was down.
 */

import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { test } from "node:test";

import { pendingPath } from "../dist/result-push.js";
import { StateDouble } from "./helpers/host-double.ts";
import { SESSION, placeCall, startGateway } from "./helpers/plugin.ts";
import { api, untilAnswered, untilSettled, world } from "./helpers/server.ts";

test("a call that ends while the gateway is down is reported after the restart", async () => {
  const state = new StateDouble();
  const { host: before, stop: stopBefore } = await startGateway(state);
  const callId = await placeCall(before, { to: world.longNumber, task: "Hold the line" });
  await untilAnswered(callId);

  // The gateway stops: its watchers end with the call still live, so nothing was pushed.
  await stopBefore();
  assert.equal(before.events.all.length, 0);
  assert.deepEqual(state.pending(), [callId]);
  assert.equal(statSync(pendingPath(state.dir)).mode & 0o777, 0o600);

  // Meanwhile the call ends.
  await api("POST", `/api/calls/${callId}/hangup`);
  await untilSettled(callId);

  // The gateway starts again (a new plugin instance on the same plugin state).
  const { host: after, stop: stopAfter } = await startGateway(state);
  const event = await after.events.next();
  assert.equal(event.options.sessionKey, SESSION.sessionKey);
  assert.match(event.text, new RegExp(`^\\[voicecall-rt\\] Call ${callId} to .* has ended`));
  assert.ok(
    after.logs.includes("info: voicecall-rt: watching 1 call(s) placed before the restart."),
    after.logs.join("\n"),
  );
  await stopAfter();
  assert.deepEqual(state.pending(), []);
  assert.equal(before.events.all.length, 0);
});
