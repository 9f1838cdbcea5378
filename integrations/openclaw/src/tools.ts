/**
 * The agent tools: make_phone_call, get_call, list_calls, hang_up. They are made per
 * agent turn by a factory, so make_phone_call knows the session that placed the call and
 * its result can be pushed back there (result-push.ts). Bad input and every failure give
 * one sentence, and a result the host grades as failed (`details.status: "failed"`).
 */

import type { AnyAgentTool, OpenClawPluginToolContext } from "openclaw/plugin-sdk/plugin-entry";

import { ApiError, type VoicecallClient, notPlaced } from "./client.js";
import type { PlaceCallBody } from "./api-types.js";
import type { ResultPush, SessionTarget } from "./result-push.js";
import { callDetails, callText, headline, listLine, otherParty } from "./results.js";
import {
  BRIEF_GUIDANCE,
  CALL_CAUTION,
  GET_CALL_DESCRIPTION,
  HANG_UP_DESCRIPTION,
  LIST_CALLS_DESCRIPTION,
  LIST_LIMIT_MAX,
  MAX_BRIEF_CHARS,
  PARAMETER_DESCRIPTIONS,
} from "./shared-text.generated.js";

export const TOOL_NAMES = ["make_phone_call", "get_call", "list_calls", "hang_up"] as const;
/** hang_up waits this long for the call to settle (the MCP tool's HANG_UP_WAIT_S). */
const HANG_UP_WAIT_S = 15;
const CALL_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** How this plugin's make_phone_call differs from the MCP tool's: it never waits. */
export const MAKE_PHONE_CALL_DESCRIPTION = `${BRIEF_GUIDANCE}

This returns at once with the call id, while the call goes on without you. When the call \
ends, its result (the outcome the voice AI reported, with details such as a confirmation \
number, a short transcript, the cost and how the call ended) arrives in this conversation \
by itself: do not poll or wait for it. Meanwhile get_call shows how the call is going and \
hang_up ends it. ${CALL_CAUTION}`;

type ToolResult = Awaited<ReturnType<AnyAgentTool["execute"]>>;

/** A result the host grades as failed: `status` and `error` are its reserved fields. */
export function failed(sentence: string): ToolResult {
  return {
    content: [{ type: "text", text: sentence }],
    details: { status: "failed", error: sentence },
  };
}

function ok(text: string, details: Record<string, unknown>): ToolResult {
  return { content: [{ type: "text", text }], details };
}

/** A refusal from the tool's own checks, before the server is asked. */
class BadInput extends Error {}

/** A parameter's description, shared with the MCP tool (test: every one has one). */
function describe(tool: string, name: string): string {
  return PARAMETER_DESCRIPTIONS[tool]?.[name] ?? "";
}

function fields(params: unknown): Record<string, unknown> {
  if (typeof params !== "object" || params === null || Array.isArray(params)) {
    throw new BadInput("The tool's arguments must be an object.");
  }
  return params as Record<string, unknown>;
}

function text(args: Record<string, unknown>, name: string, required: boolean): string | undefined {
  const value = args[name];
  if (value === undefined || value === null) {
    if (required) throw new BadInput(`${name} is required.`);
    return undefined;
  }
  if (typeof value !== "string") throw new BadInput(`${name} must be a string.`);
  return value.trim();
}

function callId(args: Record<string, unknown>): string {
  const id = text(args, "call_id", true) ?? "";
  if (!CALL_ID.test(id)) {
    throw new BadInput(
      `${JSON.stringify(id.slice(0, 80))} is not a call id (they look like call_0123456789abcdef).`,
    );
  }
  return id;
}

function placeBody(args: Record<string, unknown>, sessionKey: string | undefined): PlaceCallBody {
  const to = text(args, "to", true) ?? "";
  const task = text(args, "task", false) ?? "";
  const prompt = text(args, "systemPrompt", false) ?? "";
  if (!task && !prompt) {
    throw new BadInput(
      "Say what the call is for (a task, and ideally a systemPrompt); the call was not placed.",
    );
  }
  const combined = prompt.length + (prompt ? 2 : 0) + task.length;
  if (combined > MAX_BRIEF_CHARS) {
    throw new BadInput(
      `systemPrompt and task together are ${combined} characters, over the limit of ${MAX_BRIEF_CHARS}:` +
        " shorten the brief (keep the goal, the details, the fallbacks and the minimum personal" +
        " information) and keep task to one line; the call was not placed.",
    );
  }
  const schema = args["outcomeSchema"];
  if (
    schema !== undefined &&
    (typeof schema !== "object" || schema === null || Array.isArray(schema))
  ) {
    throw new BadInput("outcomeSchema must be a JSON Schema object; the call was not placed.");
  }
  return {
    to,
    task,
    ...(prompt ? { systemPrompt: prompt } : {}),
    ...(sessionKey ? { sessionKey } : {}),
    ...(schema !== undefined ? { outcomeSchema: schema as Record<string, unknown> } : {}),
  };
}

/** Run a tool body; bad input and API failures become one-sentence failed results. */
async function guarded(
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

export interface ToolDeps {
  client: () => VoicecallClient;
  push: ResultPush;
  logWarn: (message: string) => void;
}

/** A tool that acts on one call by id (get_call, hang_up): the id is checked, and a 404
 * becomes "there is no call with id …". Its result can hold words from the call. */
function callIdTool(
  name: string,
  label: string,
  description: string,
  act: (id: string) => Promise<ToolResult>,
): AnyAgentTool {
  return {
    name,
    label,
    description,
    parameters: {
      type: "object",
      additionalProperties: false,
      required: ["call_id"],
      properties: { call_id: { type: "string", description: describe(name, "call_id") } },
    },
    resultContentSource: "network",
    execute: (_toolCallId, params) => {
      let id = "";
      return guarded(
        async () => {
          id = callId(fields(params));
          return act(id);
        },
        (error) => (error.kind === "not-found" ? `There is no call with id ${id}.` : error.message),
      );
    },
  };
}

export function createTools(context: OpenClawPluginToolContext, deps: ToolDeps): AnyAgentTool[] {
  const target: SessionTarget | undefined = context.sessionKey
    ? { sessionKey: context.sessionKey, agentId: context.agentId }
    : undefined;

  const makePhoneCall: AnyAgentTool = {
    name: "make_phone_call",
    label: "Make a phone call",
    description: MAKE_PHONE_CALL_DESCRIPTION,
    parameters: {
      type: "object",
      additionalProperties: false,
      required: ["to", "task"],
      properties: {
        to: { type: "string", description: describe("make_phone_call", "to") },
        task: { type: "string", description: describe("make_phone_call", "task") },
        systemPrompt: {
          type: "string",
          maxLength: MAX_BRIEF_CHARS,
          description: describe("make_phone_call", "systemPrompt"),
        },
        outcomeSchema: {
          type: "object",
          description: describe("make_phone_call", "outcomeSchema"),
        },
      },
    },
    execute: (_toolCallId, params) =>
      guarded(async () => {
        const call = await deps.client().placeCall(placeBody(fields(params), target?.sessionKey));
        let pushed = false;
        if (target) {
          try {
            await deps.push.track(call.id, target);
            pushed = true;
          } catch (error) {
            deps.logWarn(
              `voicecall-rt: call ${call.id} is placed but not watched: ${String(error)}`,
            );
          }
        }
        const next = pushed
          ? "Its result will arrive in this conversation when the call ends; you do not need to wait or poll."
          : `Its result will not arrive here by itself: check on it later with get_call (call_id "${call.id}").`;
        return ok(`Placed call ${call.id} to ${call.to_number} (status: ${call.status}). ${next}`, {
          call: { id: call.id, status: call.status, to: call.to_number },
          resultPushed: pushed,
        });
      }, notPlaced),
  };

  const getCall = callIdTool("get_call", "Get a call", GET_CALL_DESCRIPTION, async (id) => {
    const view = await deps.client().getCall(id);
    return ok(callText(view), callDetails(view));
  });

  const listCalls: AnyAgentTool = {
    name: "list_calls",
    label: "List calls",
    description: LIST_CALLS_DESCRIPTION,
    parameters: {
      type: "object",
      additionalProperties: false,
      properties: {
        active_only: {
          type: "boolean",
          default: false,
          description: describe("list_calls", "active_only"),
        },
        limit: {
          type: "integer",
          minimum: 1,
          maximum: LIST_LIMIT_MAX,
          default: 20,
          description: describe("list_calls", "limit"),
        },
      },
    },
    execute: (_toolCallId, params) =>
      guarded(async () => {
        const args = fields(params);
        const activeOnly = args["active_only"] === true;
        const rawLimit = args["limit"] ?? 20;
        if (
          typeof rawLimit !== "number" ||
          !Number.isInteger(rawLimit) ||
          rawLimit < 1 ||
          rawLimit > LIST_LIMIT_MAX
        ) {
          throw new BadInput(`limit must be a whole number from 1 to ${LIST_LIMIT_MAX}.`);
        }
        const calls = await deps.client().listCalls({ limit: rawLimit, activeOnly });
        const text =
          calls.length === 0
            ? activeOnly
              ? "No call is live."
              : "No calls yet."
            : calls.map(listLine).join("\n");
        return ok(text, {
          calls: calls.map((call) => ({
            id: call.id,
            status: call.status,
            number: otherParty(call),
          })),
        });
      }),
  };

  const hangUp = callIdTool("hang_up", "Hang up a call", HANG_UP_DESCRIPTION, async (id) => {
    const client = deps.client();
    try {
      await client.hangUp(id);
    } catch (error) {
      if (!(error instanceof ApiError) || error.kind !== "not-found") throw error;
      const view = await client.getCall(id); // a 404 here: no such call at all
      throw new BadInput(`${headline(view).replace(/\.$/, "")}, so there is nothing to hang up.`);
    }
    const view = await client.getCall(id, { waitS: HANG_UP_WAIT_S });
    return ok(callText(view), callDetails(view));
  });

  return [makePhoneCall, getCall, listCalls, hangUp];
}
