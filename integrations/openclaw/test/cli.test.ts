/**
 * `openclaw voicecall-rt call|status|calls`, registered on a commander program as the
 * gateway's CLI does, against the real server.
 */

import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

import { Command } from "commander";

import type { CliIo } from "../dist/cli.js";
import { loadPlugin } from "./helpers/plugin.ts";
import { api, closedPort, untilAnswered, world } from "./helpers/server.ts";

interface Run {
  out: string[];
  err: string[];
  failed: boolean;
}

async function openclaw(args: string[], config?: Record<string, unknown>): Promise<Run> {
  const run: Run = { out: [], err: [], failed: false };
  const io: CliIo = {
    out: (text) => run.out.push(text),
    err: (text) => run.err.push(text),
    fail: () => {
      run.failed = true;
    },
  };
  const host = loadPlugin(config, { io });
  const program = new Command("openclaw").exitOverride();
  for (const { registrar } of host.clis) {
    await registrar({ program, parentPath: [], config: {}, logger: host.logger });
  }
  await program.parseAsync(args, { from: "user" });
  return run;
}

function tempFile(name: string, content: string): string {
  const path = join(mkdtempSync(join(tmpdir(), "voicecall-cli-")), name);
  writeFileSync(path, content);
  return path;
}

test("call, status --wait and calls", async () => {
  const brief = tempFile(
    "brief.txt",
    "You are calling Rosa's Trattoria for Sam Patel; hold the line.",
  );
  const placed = await openclaw([
    "voicecall-rt",
    "call",
    "-n",
    world.longNumber,
    "-t",
    "Hold",
    "--prompt-file",
    brief,
    "--json",
  ]);
  assert.deepEqual(placed.err, []);
  const { call } = JSON.parse(placed.out.join("\n")) as {
    call: { id: string; system_prompt: string };
  };
  assert.equal(
    call.system_prompt,
    "You are calling Rosa's Trattoria for Sam Patel; hold the line.",
  );
  await untilAnswered(call.id);

  const live = await openclaw(["voicecall-rt", "calls", "--active"]);
  assert.ok(
    live.out
      .join("\n")
      .split("\n")
      .some((line) => line.startsWith(`${call.id} outbound ${world.longNumber} in-progress `)),
    live.out.join("\n"),
  );

  await api("POST", `/api/calls/${call.id}/hangup`);
  const settled = await openclaw(["voicecall-rt", "status", call.id, "--wait", "--json"]);
  const view = JSON.parse(settled.out.join("\n")) as {
    call: { id: string; status: string };
    active: boolean;
  };
  assert.equal(view.active, false);
  assert.equal(view.call.status, "completed");

  const status = await openclaw(["voicecall-rt", "status", call.id]);
  assert.match(
    status.out.join("\n"),
    new RegExp(`^Call ${call.id} to .* has ended \\(completed, hangup-requested\\)`),
  );

  const calls = await openclaw(["voicecall-rt", "calls", "--limit", "500", "--json"]);
  const listed = JSON.parse(calls.out.join("\n")) as { calls: Array<{ id: string }> };
  assert.ok(listed.calls.some((each) => each.id === call.id));
});

test("failures print one sentence on stderr and fail the command", async () => {
  const port = await closedPort();
  const down = await openclaw(["voicecall-rt", "calls"], {
    url: `http://127.0.0.1:${port}`,
    token: "x",
  });
  assert.equal(down.failed, true);
  assert.deepEqual(down.out, []);
  assert.equal(down.err.length, 1);
  assert.match(down.err[0] ?? "", /^No voicecall-rt server is reachable at /);

  const schema = tempFile("schema.json", "{not json");
  const bad = await openclaw([
    "voicecall-rt",
    "call",
    "-n",
    world.bookingNumber,
    "-t",
    "Book",
    "--outcome-schema",
    schema,
  ]);
  assert.equal(bad.failed, true);
  assert.match(bad.err[0] ?? "", /^The outcome schema file .* is not valid JSON: /);

  const refused = await openclaw(["voicecall-rt", "status", "call_nothere"]);
  assert.deepEqual(refused.err, ["There is no call with id call_nothere."]);
  assert.equal(refused.failed, true);
});
