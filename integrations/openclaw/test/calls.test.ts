/**
 * The plugin's tools against the real voicecall-rt server (fake carrier, fake model): a call
 * placed from a session comes back at once with its id, and when it settles its report is
 * pushed into that same session, which is woken; get_call, list_calls and hang_up work.
 */

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import entry from "../dist/index.js";
import { WAKE_REASON } from "../dist/result-push.js";
import { TOOL_NAMES } from "../dist/tools.js";
import { StateDouble } from "./helpers/host-double.ts";
import {
  SESSION,
  detailsOf,
  failedWith,
  loadPlugin,
  placeCall,
  serviceContext,
  succeeded,
  tool,
} from "./helpers/plugin.ts";
import { api, untilAnswered, world } from "./helpers/server.ts";

const BRIEF =
  "You are calling Rosa's Trattoria on behalf of Sam Patel to book dinner for 3 this Saturday at" +
  " 7:30 pm. If Saturday is full, ask for Sunday. Find out the confirmation number.";

interface StoredView {
  call: { id: string; status: string; notify_session_key: string | null; outcome: unknown };
  transcript: Array<{ role: string; text: string }>;
}

test("the entry and the manifest name the same plugin, tools and command", () => {
  const manifest = JSON.parse(
    readFileSync(new URL("../openclaw.plugin.json", import.meta.url), "utf8"),
  );
  assert.equal(entry.id, manifest.id);
  assert.deepEqual([...TOOL_NAMES].sort(), [...manifest.contracts.tools].sort());
  const host = loadPlugin();
  assert.deepEqual(
    host.tools.map((each) => each.names),
    [[...TOOL_NAMES]],
  );
  assert.deepEqual(
    host.clis.map((each) => each.commands),
    [manifest.cliCommands.map((c: { name: string }) => c.name)],
  );
  assert.equal(host.services.length, 1);
  assert.deepEqual([...host.toolsFor(SESSION).keys()].sort(), [...TOOL_NAMES].sort());
  // Every parameter is described (the words come from the MCP server's tools).
  for (const each of host.toolsFor(SESSION).values()) {
    const properties = (each.parameters as { properties: Record<string, { description?: string }> })
      .properties;
    for (const [name, schema] of Object.entries(properties)) {
      assert.ok(schema.description, `${each.name}.${name} has no description`);
    }
  }
  const place = tool(host, "make_phone_call");
  for (const needed of [
    "second person",
    "on whose behalf",
    "GOOD systemPrompt",
    "BAD systemPrompt",
    "outcomeSchema",
    "arrives in this conversation",
    "costs money",
  ]) {
    assert.ok(place.description.includes(needed), needed);
  }
});

test("make_phone_call returns at once; the settled call's report reaches its session", async (t) => {
  const state = new StateDouble();
  const host = loadPlugin(undefined, { state });
  const callId = await placeCall(host, {
    to: world.bookingNumber,
    task: "Book dinner for 3 on Saturday",
    systemPrompt: BRIEF,
  });

  // The call was placed on the server, for this session, and is not over yet: the tool
  // did not wait for it.
  const placed = (await api("GET", `/api/calls/${callId}`)) as StoredView & { active: boolean };
  assert.equal(placed.call.notify_session_key, SESSION.sessionKey);
  assert.equal(placed.active, true);
  assert.equal(host.events.all.length, 0);

  const event = await host.events.next();
  t.diagnostic(`pushed into ${event.options.sessionKey}:\n${event.text}`);
  assert.equal(event.options.sessionKey, SESSION.sessionKey);
  assert.equal((event.options as { agentId?: string }).agentId, SESSION.agentId);
  assert.deepEqual(host.wakes, [
    {
      source: "other",
      intent: "immediate",
      reason: WAKE_REASON,
      sessionKey: SESSION.sessionKey,
      agentId: SESSION.agentId,
    },
  ]);

  const stored = (await api("GET", `/api/calls/${callId}`)) as StoredView;
  const { outcome, calleeLines } = world.booking;
  assert.equal(stored.call.status, "completed");
  assert.deepEqual(stored.call.outcome, outcome);
  const text = event.text;
  assert.match(
    text,
    new RegExp(
      `^\\[voicecall-rt\\] Call ${callId} to ${world.bookingNumber.replace("+", "\\+")} has ended \\(completed`,
    ),
  );
  assert.match(text, /; cost \$\d+\.\d{4}\./);
  // Everything from the phone line sits inside one fence whose markers carry the same id.
  const fence =
    /<<<VOICECALL_RT_CALL_CONTENT id="([0-9a-f]{16})">>>\n([\s\S]*)\n<<<END_VOICECALL_RT_CALL_CONTENT id="\1">>>/.exec(
      text,
    );
  assert.ok(fence, text);
  const inside = fence[2] ?? "";
  assert.ok(inside.includes(`Outcome (goal achieved): ${outcome.summary}`), inside);
  assert.ok(inside.includes(`Details: ${JSON.stringify(outcome.details)}`), inside);
  for (const line of calleeLines) {
    assert.ok(inside.includes(`callee: ${line}`), `${line} not in the fence`);
  }
  const outside = text.replace(fence[0], "");
  for (const line of calleeLines) {
    assert.ok(!outside.includes(line), `${line} outside the fence`);
  }
  assert.match(text, /untrusted third-party speech/);
  assert.ok(text.endsWith(`use get_call with call_id "${callId}".`), text);

  // Delivered: once the watchers are done, nothing is left to resume after a restart.
  await host.services[0]?.stop?.(serviceContext(host));
  assert.deepEqual(state.pending(), []);
  assert.equal(host.events.all.length, 1);
  const get = await tool(host, "get_call").execute("tool-call-2", { call_id: callId });
  const got = succeeded(get);
  assert.match(got, new RegExp(`^Call ${callId} to .* has ended \\(completed`));
  assert.ok(got.includes(outcome.summary));
  const details = detailsOf(get)["call"] as { id: string; status: string; outcome: unknown };
  assert.equal(details.status, "completed");
  assert.deepEqual(details.outcome, outcome);

  const listed = succeeded(await tool(host, "list_calls").execute("tool-call-3", { limit: 200 }));
  assert.ok(
    listed
      .split("\n")
      .some((line) => line.startsWith(`${callId} outbound ${world.bookingNumber} completed `)),
    listed,
  );
});

test("hang_up ends a live call, and its end is pushed too", async () => {
  const host = loadPlugin();
  const callId = await placeCall(host, { to: world.longNumber, task: "Hold the line" });
  await untilAnswered(callId);
  const live = succeeded(
    await tool(host, "list_calls").execute("tool-call-1", { active_only: true }),
  );
  assert.ok(live.includes(callId), live);

  const hung = succeeded(await tool(host, "hang_up").execute("tool-call-2", { call_id: callId }));
  assert.match(hung, new RegExp(`^Call ${callId} to .* has ended`));
  const event = await host.events.next();
  assert.match(event.text, new RegExp(`^\\[voicecall-rt\\] Call ${callId} .* has ended`));
  assert.equal(event.options.sessionKey, SESSION.sessionKey);

  // Again: the call is over, so there is nothing to hang up.
  const again = failedWith(await tool(host, "hang_up").execute("tool-call-3", { call_id: callId }));
  assert.match(
    again,
    new RegExp(`^Call ${callId} .* has ended .*, so there is nothing to hang up\\.$`),
  );
});

test("a call placed where there is no session is not watched, and the tool says so", async () => {
  const host = loadPlugin();
  const result = await tool(host, "make_phone_call", {}).execute("tool-call-1", {
    to: world.longNumber,
    task: "Hold the line",
  });
  const text = succeeded(result);
  const callId = (detailsOf(result)["call"] as { id: string }).id;
  assert.match(text, /will not arrive here by itself: check on it later with get_call/);
  const stored = (await api("GET", `/api/calls/${callId}`)) as StoredView;
  assert.equal(stored.call.notify_session_key, null);
  succeeded(await tool(host, "hang_up").execute("tool-call-2", { call_id: callId }));
  assert.equal(host.events.all.length, 0);
});

test("an outcomeSchema reaches the server with the call; an invalid one is refused before dialling", async () => {
  const host = loadPlugin();
  const schema = {
    type: "object",
    properties: { confirmation: { type: "string" } },
    required: ["confirmation"],
  };
  const callId = await placeCall(host, {
    to: world.longNumber,
    task: "Hold the line",
    outcomeSchema: schema,
  });
  const stored = (await api("GET", `/api/calls/${callId}`)) as {
    call: { outcome_schema: unknown };
  };
  assert.deepEqual(stored.call.outcome_schema, schema);
  succeeded(await tool(host, "hang_up").execute("tool-call-2", { call_id: callId }));

  const refused = failedWith(
    await tool(host, "make_phone_call").execute("tool-call-3", {
      to: world.longNumber,
      task: "Hold the line",
      outcomeSchema: { type: "array" },
    }),
  );
  assert.match(refused, /^The call was not placed: outcomeSchema/);
});
