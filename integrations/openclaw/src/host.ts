/**
 * The part of OpenClaw's plugin API this plugin uses, named with the SDK's own types: the
 * real `api` satisfies it, and a test double typed against it cannot drift from the SDK.
 */

import type { OpenClawPluginApi } from "openclaw/plugin-sdk/plugin-entry";

type Runtime = OpenClawPluginApi["runtime"];

export type SystemEvents = Pick<Runtime["system"], "enqueueSystemEvent" | "requestHeartbeat">;
export type PluginState = Pick<Runtime["state"], "resolveStateDir">;

export type PluginHost = Pick<
  OpenClawPluginApi,
  "pluginConfig" | "logger" | "registerTool" | "registerCli" | "registerService"
> & {
  runtime: { system: SystemEvents; state: PluginState };
};

export type PluginLogger = OpenClawPluginApi["logger"];
export type CliRegistrar = Parameters<OpenClawPluginApi["registerCli"]>[0];
export type CliContext = Parameters<CliRegistrar>[0];
export type CliProgram = CliContext["program"];
export type ToolRegistration = Parameters<OpenClawPluginApi["registerTool"]>[0];
export type ServiceRegistration = Parameters<OpenClawPluginApi["registerService"]>[0];
