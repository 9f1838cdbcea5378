/**
 * What every agent tool shares: its result (a failure is one sentence, graded failed by the
 * host through `details.status`), reading its arguments, and the parameters' descriptions,
 * which come from the MCP server's tools.
 */

import type { AnyAgentTool } from "openclaw/plugin-sdk/plugin-entry";

import { ApiError } from "./client.js";
import { PARAMETER_DESCRIPTIONS } from "./shared-text.generated.js";

export type ToolResult = Awaited<ReturnType<AnyAgentTool["execute"]>>;

/** A result the host grades as failed: `status` and `error` are its reserved fields. */
export function failed(sentence: string): ToolResult {
  return {
    content: [{ type: "text", text: sentence }],
    details: { status: "failed", error: sentence },
  };
}

export function ok(text: string, details: Record<string, unknown>): ToolResult {
  return { content: [{ type: "text", text }], details };
}

/** A refusal from the tool's own checks, before the server is asked. */
export class BadInput extends Error {}

/** A parameter's description, shared with the MCP tool (test: every one has one). */
export function describe(tool: string, name: string): string {
  return PARAMETER_DESCRIPTIONS[tool]?.[name] ?? "";
}

export function fields(params: unknown): Record<string, unknown> {
  if (typeof params !== "object" || params === null || Array.isArray(params)) {
    throw new BadInput("The tool's arguments must be an object.");
  }
  return params as Record<string, unknown>;
}

export function text(
  args: Record<string, unknown>,
  name: string,
  required: boolean,
): string | undefined {
  const value = args[name];
  if (value === undefined || value === null) {
    if (required) throw new BadInput(`${name} is required.`);
    return undefined;
  }
  if (typeof value !== "string") throw new BadInput(`${name} must be a string.`);
  return value.trim();
}

/** Run a tool body; bad input and API failures become one-sentence failed results. */
export async function guarded(
  run: () => Promise<ToolResult>,
  onApiError: (error: ApiError) => string = (error) => error.message,
): Promise<ToolResult> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof BadInput) return failed(error.message);
    if (error instanceof ApiError) return failed(onApiError(error));
    throw error;
  }
}
