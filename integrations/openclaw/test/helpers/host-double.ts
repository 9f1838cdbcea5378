/**
 * A stand-in for the OpenClaw gateway's plugin API, typed with the SDK's own types (through
 * src/host.ts): if the SDK changes what the plugin uses, this stops compiling. It records
 * what the plugin registers and what it pushes into sessions, and lets a test wait for the
 * next pushed event without any timer.
 */

import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import type { AnyAgentTool, OpenClawPluginToolContext } from "openclaw/plugin-sdk/plugin-entry";

import type {
  CliRegistrar,
  PluginHost,
  ServiceRegistration,
  ToolRegistration,
} from "../../dist/host.js";
import { pendingPath } from "../../dist/result-push.js";

type System = PluginHost["runtime"]["system"];
type ResolveStateDir = PluginHost["runtime"]["state"]["resolveStateDir"];
export type EventOptions = Parameters<System["enqueueSystemEvent"]>[1];
export type WakeRequest = Parameters<System["requestHeartbeat"]>[0];

export interface PushedEvent {
  text: string;
  options: EventOptions;
}

/** A queue whose `next()` resolves with the next item, already queued or still to come. */
export class Queue<T> {
  private readonly items: T[] = [];
  private readonly waiters: Array<(item: T) => void> = [];
  readonly all: T[] = [];

  push(item: T): void {
    this.all.push(item);
    const waiter = this.waiters.shift();
    if (waiter) waiter(item);
    else this.items.push(item);
  }

  next(): Promise<T> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve(item);
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

/** OpenClaw's state directory (`api.runtime.state`), a fresh one per double unless shared:
 * two doubles on one state are the gateway before and after a restart. */
export class StateDouble {
  readonly dir = mkdtempSync(join(tmpdir(), "openclaw-state-"));

  readonly resolveStateDir: ResolveStateDir = () => this.dir;

  /** The calls the plugin still has to report, as it left them in its file. */
  pending(): string[] {
    try {
      return Object.keys(JSON.parse(readFileSync(pendingPath(this.dir), "utf8")));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw error;
    }
  }
}

export class HostDouble implements PluginHost {
  readonly tools: Array<{ tool: ToolRegistration; names: readonly string[] }> = [];
  readonly clis: Array<{ registrar: CliRegistrar; commands: readonly string[] }> = [];
  readonly services: ServiceRegistration[] = [];
  readonly events = new Queue<PushedEvent>();
  readonly wakes: WakeRequest[] = [];
  readonly logs: string[] = [];

  readonly logger = {
    info: (message: string) => this.logs.push(`info: ${message}`),
    warn: (message: string) => this.logs.push(`warn: ${message}`),
    error: (message: string) => this.logs.push(`error: ${message}`),
  };

  readonly registerTool: PluginHost["registerTool"] = (tool, options) => {
    this.tools.push({ tool, names: options?.names ?? (options?.name ? [options.name] : []) });
  };

  readonly registerCli: PluginHost["registerCli"] = (registrar, options) => {
    const commands =
      options?.descriptors?.map((descriptor) => descriptor.name) ?? options?.commands ?? [];
    this.clis.push({ registrar, commands });
  };

  readonly registerService: PluginHost["registerService"] = (service) => {
    this.services.push(service);
  };

  readonly runtime: PluginHost["runtime"];
  readonly pluginConfig?: Record<string, unknown>;

  constructor(
    pluginConfig: Record<string, unknown> | undefined,
    state: StateDouble = new StateDouble(),
  ) {
    if (pluginConfig !== undefined) this.pluginConfig = pluginConfig;
    const system: System = {
      enqueueSystemEvent: (text, options) => {
        this.events.push({ text, options });
        return true;
      },
      requestHeartbeat: (request) => {
        this.wakes.push(request);
      },
    };
    this.runtime = { system, state: { resolveStateDir: state.resolveStateDir } };
  }

  /** The tools as an agent turn in this session gets them. */
  toolsFor(context: OpenClawPluginToolContext): Map<string, AnyAgentTool> {
    const out = new Map<string, AnyAgentTool>();
    for (const { tool } of this.tools) {
      const made =
        typeof tool === "function"
          ? tool(context)
          : "create" in tool
            ? tool.create({ ...context, assertInvocationCurrent: () => {} })
            : tool;
      for (const each of made === null || made === undefined
        ? []
        : Array.isArray(made)
          ? made
          : [made]) {
        out.set(each.name, each);
      }
    }
    return out;
  }
}
