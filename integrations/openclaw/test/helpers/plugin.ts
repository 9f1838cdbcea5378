/**
 * The plugin, built (dist/), registered on a host double, and small readers for its tool
 * results. `registerVoicecall` is what the entry's `register(api)` calls, with the narrow
 * host type the double implements (the gateway itself loads the entry: openclaw-load test).
 */

import assert from "node:assert/strict";
import { afterEach } from "node:test";

import type { AnyAgentTool, OpenClawPluginToolContext } from "openclaw/plugin-sdk/plugin-entry";

import type { CliIo } from "../../dist/cli.js";
import type { ServiceRegistration } from "../../dist/host.js";
import { type Registered, registerVoicecall } from "../../dist/plugin.js";
import { HostDouble, StateDouble } from "./host-double.ts";
import { world } from "./server.ts";

export const SESSION: OpenClawPluginToolContext = {
  sessionKey: "agent:main:telegram:direct:4242",
  agentId: "main",
};

type ToolResult = Awaited<ReturnType<AnyAgentTool["execute"]>>;
type ServiceContext = Parameters<ServiceRegistration["start"]>[0];

/** What the gateway hands a service when it starts or stops it. */
export function serviceContext(host: HostDouble): ServiceContext {
  return { config: {}, stateDir: "/nonexistent/openclaw-state", logger: host.logger };
}

/** A gateway with the plugin registered, configured for the test server unless told. */
export function loadPlugin(
  config: Record<string, unknown> = { url: world.url, token: world.token },
  options: { state?: StateDouble; io?: CliIo } = {},
): HostDouble {
  const host = new HostDouble(config, options.state);
  registered.set(host, registerVoicecall(host, options.io));
  loaded.push(host);
  return host;
}

/** A gateway starting on this plugin state: the plugin loaded, its service started. */
export async function startGateway(
  state: StateDouble,
): Promise<{ host: HostDouble; stop: () => Promise<void> }> {
  const host = loadPlugin(undefined, { state });
  const [service] = host.services;
  assert.ok(service);
  await service.start(serviceContext(host));
  return { host, stop: async () => service.stop?.(serviceContext(host)) };
}

const registered = new WeakMap<HostDouble, Registered>();

/** The plugin's watcher of placed calls, on a host loadPlugin made. */
export function pushOf(host: HostDouble): Registered["push"] {
  const found = registered.get(host);
  assert.ok(found, "not a host loadPlugin made");
  return found.push;
}

/** Plugins loaded by the current test: their watchers end with it, passed or failed. */
const loaded: HostDouble[] = [];
afterEach(async () => {
  for (const host of loaded.splice(0)) {
    for (const service of host.services) await service.stop?.(serviceContext(host));
  }
});

export function tool(
  host: HostDouble,
  name: string,
  context: OpenClawPluginToolContext = SESSION,
): AnyAgentTool {
  const found = host.toolsFor(context).get(name);
  assert.ok(found, `tool ${name} is not registered`);
  return found;
}

export function textOf(result: ToolResult): string {
  assert.equal(result.content.length, 1);
  const [content] = result.content;
  assert.ok(content && content.type === "text");
  return content.text;
}

export function detailsOf(result: ToolResult): Record<string, unknown> {
  assert.equal(typeof result.details, "object");
  return result.details as Record<string, unknown>;
}

/** A successful result (not graded failed by the host) and its text. */
export function succeeded(result: ToolResult): string {
  const details = detailsOf(result);
  assert.equal(details["status"], undefined, textOf(result));
  assert.equal(details["error"], undefined, textOf(result));
  return textOf(result);
}

/** A failed result: one sentence (no stack trace), graded failed by `details.status`. */
export function failedWith(result: ToolResult): string {
  const text = textOf(result);
  const details = detailsOf(result);
  assert.equal(details["status"], "failed", text);
  assert.equal(details["error"], text);
  assert.ok(!text.includes("\n"), `more than one line: ${text}`);
  assert.doesNotMatch(text, /:\d+:\d+\)|Error\b|undefined|\[object/, `looks like a trace: ${text}`);
  assert.doesNotMatch(text, /[.!?]\s+[A-Z]/, `more than one sentence: ${text}`);
  return text;
}

export async function placeCall(host: HostDouble, args: Record<string, unknown>): Promise<string> {
  const result = await tool(host, "make_phone_call").execute("tool-call-1", args);
  const text = succeeded(result);
  const call = detailsOf(result)["call"] as { id: string };
  assert.match(text, new RegExp(`^Placed call ${call.id} `));
  return call.id;
}
