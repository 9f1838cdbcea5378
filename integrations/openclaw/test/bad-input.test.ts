/**
 * Bad input: a server that is down, a wrong token, a refusal from the API and arguments the
 * tools refuse themselves. Each gives the agent one sentence, graded failed, never a trace.
 */

import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

import { failedWith, loadPlugin, tool } from "./helpers/plugin.ts";
import { closedPort, world } from "./helpers/server.ts";

const PLACE = { to: "+14155550142", task: "Book a table" };

/** Each tool once, with arguments that are fine: only the server's state decides. */
const EVERY_TOOL: Array<[string, Record<string, unknown>]> = [
  ["make_phone_call", PLACE],
  ["get_call", { call_id: "call_0123456789abcdef" }],
  ["list_calls", {}],
  ["hang_up", { call_id: "call_0123456789abcdef" }],
];

test("a server that is down: every tool says where it looked and how to start one", async () => {
  const port = await closedPort();
  const host = loadPlugin({ url: `http://127.0.0.1:${port}/`, token: world.token });
  for (const [name, args] of EVERY_TOOL) {
    const text = failedWith(await tool(host, name).execute("tool-call-1", args));
    const prefix = name === "make_phone_call" ? "The call was not placed: no" : "No";
    assert.ok(
      text.startsWith(
        `${prefix} voicecall-rt server is reachable at http://127.0.0.1:${port} (ECONNREFUSED)`,
      ),
      text,
    );
    assert.ok(
      text.endsWith("start it with `voicecall-rt serve`, or fix the plugin's url setting."),
      text,
    );
  }
});

test("a wrong token: the server refuses it and the tool says which setting to fix", async () => {
  const host = loadPlugin({ url: world.url, token: "not-the-token" });
  for (const [name, args] of EVERY_TOOL) {
    const text = failedWith(await tool(host, name).execute("tool-call-1", args));
    const prefix = name === "make_phone_call" ? "The call was not placed: the" : "The";
    assert.ok(
      text.startsWith(`${prefix} voicecall-rt server at ${world.url} refused the API token;`),
      text,
    );
    assert.ok(!text.includes("not-the-token"), "the token is never shown");
  }
});

test("no token configured and no token file: the tool says where the token comes from", async () => {
  const home = mkdtempSync(join(tmpdir(), "no-token-"));
  const saved = process.env["HOME"];
  process.env["HOME"] = home;
  try {
    const host = loadPlugin({ url: world.url });
    const text = failedWith(await tool(host, "list_calls").execute("tool-call-1", {}));
    assert.equal(
      text,
      "No voicecall-rt API token: set the plugin's token setting, or start it with `voicecall-rt serve` once" +
        ` so that it writes ${join(home, ".openclaw", "voice-calls-realtime", "api-token")}.`,
    );
  } finally {
    process.env["HOME"] = saved;
  }
});

test("the API refuses a call: the agent reads the server's reason, and nothing is dialled", async () => {
  const host = loadPlugin();
  const text = failedWith(
    await tool(host, "make_phone_call").execute("tool-call-1", { to: "12", task: "Book" }),
  );
  assert.match(text, /^The call was not placed: '12' is not an E\.164 phone number .*\.$/);
});

test("a guard refuses an emergency number: the agent reads why, and nothing is dialled", async () => {
  const host = loadPlugin();
  const text = failedWith(
    await tool(host, "make_phone_call").execute("tool-call-1", { to: "+1911", task: "Report" }),
  );
  assert.equal(
    text,
    "The call was not placed: +1911 is an emergency number (911): calls to emergency" +
      " services are never placed.",
  );
});

test("arguments the tools refuse before asking the server", async () => {
  const host = loadPlugin();
  const place = tool(host, "make_phone_call");
  assert.match(failedWith(await place.execute("c1", { task: "Book" })), /^to is required\.$/);
  assert.match(
    failedWith(await place.execute("c2", { to: "+14155550142" })),
    /^Say what the call is for/,
  );
  const long = "You are calling for Sam. ".repeat(200);
  const tooLong = failedWith(await place.execute("c3", { ...PLACE, systemPrompt: long }));
  assert.match(
    tooLong,
    /characters, over the limit of 4000: shorten the brief .*; the call was not placed\.$/,
  );
  assert.match(
    failedWith(await place.execute("c4", { ...PLACE, outcomeSchema: "yes" })),
    /^outcomeSchema must be a JSON Schema object/,
  );
  assert.match(
    failedWith(await tool(host, "get_call").execute("c5", { call_id: "../calls" })),
    /is not a call id/,
  );
  assert.equal(
    failedWith(await tool(host, "get_call").execute("c6", { call_id: "call_nothere" })),
    "There is no call with id call_nothere.",
  );
  assert.equal(
    failedWith(await tool(host, "hang_up").execute("c7", { call_id: "call_nothere" })),
    "There is no call with id call_nothere.",
  );
  assert.match(
    failedWith(await tool(host, "list_calls").execute("c8", { limit: 0 })),
    /^limit must be a whole number from 1 to 200\.$/,
  );
});
