/**
 * The agent tools: make_phone_call, get_call, list_calls, hang_up and
 * cancel_scheduled_call (schedule-tools.ts). They are made per agent turn by a factory, so
 * make_phone_call knows the session that placed the call and its result can be pushed back
 * there (result-push.ts). Bad input and every failure give one sentence, and a result the
 * host grades as failed (`details.status: "failed"`, tool-kit.ts).
 */

import type { AnyAgentTool, OpenClawPluginToolContext } from "openclaw/plugin-sdk/plugin-entry";

import { ApiError, type VoicecallClient } from "./client.js";
import type { CallRecord, PlaceAnswer, PlaceCallBody, ScheduleRecord } from "./api-types.js";
import type { ResultPush, SessionTarget } from "./result-push.js";
import { callDetails, callText, headline, listLine, otherParty } from "./results.js";
import { cancelScheduledCall } from "./schedule-tools.js";
import {
  SCHEDULE_PREFIX,
  attemptResult,
  placeRefusal,
  retriedAnswer,
  scheduleDetails,
  scheduleLine,
  scheduleResult,
  scheduledAnswer,
} from "./schedules.js";
import {
  BRIEF_GUIDANCE,
  CALL_CAUTION,
  GET_CALL_DESCRIPTION,
  HANG_UP_DESCRIPTION,
  LIST_CALLS_DESCRIPTION,
  LIST_LIMIT_MAX,
  MAX_BRIEF_CHARS,
} from "./shared-text.generated.js";
import { BadInput, type ToolResult, describe, fields, guarded, ok, text } from "./tool-kit.js";

export const TOOL_NAMES = [
  "make_phone_call",
  "get_call",
  "list_calls",
  "hang_up",
  "cancel_scheduled_call",
] as const;
/** hang_up waits this long for the call to settle (the MCP tool's HANG_UP_WAIT_S). */
const HANG_UP_WAIT_S = 15;
const CALL_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** get_call takes a schedule's id too, as the MCP tool's does. */
const GET_SCHEDULE =
  "Given a scheduled call's id (sched_…, from make_phone_call with at or whenAllowed, or the" +
  " retries of a call), it shows the schedule while nothing is placed yet, then its latest" +
  " attempt as a call.";

/** list_calls lists the live schedules too, as the MCP tool does. */
const LIST_SCHEDULED =
  "Calls scheduled for later, and calls whose retries are not over, follow them (sched_… ids).";

/** How this plugin's make_phone_call differs from the MCP tool's: it never waits. */
export const MAKE_PHONE_CALL_DESCRIPTION = `${BRIEF_GUIDANCE}

This returns at once with the call id, while the call goes on without you. When the call \
ends, its result (the outcome the voice AI reported, with details such as a confirmation \
number, a short transcript, the cost and how the call ended) arrives in this conversation \
by itself: do not poll or wait for it. Meanwhile get_call shows how the call is going and \
hang_up ends it.

To call later rather than now, pass \`at\`: when the user asks for the call at a given time, \
or the place is closed now and you know when it opens. Give the time with its offset, or \
without one together with \`timeZone\` (the callee's zone, e.g. 'Europe/Paris'). Pass \
\`whenAllowed: true\` when the call may wait: if the callee's calling hours (set on the \
server) do not allow it now, or at \`at\`, it is scheduled for their next allowed time \
instead of refused; without it, such a call is refused with that time. A call for later \
answers with its schedule (id sched_…, and when it is due), not a call; its result arrives \
here by itself once the call has been made, and cancel_scheduled_call cancels it.

When the server is set to try again a call that does not get through (busy, no answer), \
the answer says so: the server then calls again by itself, and the result that arrives is \
the final attempt's. Do not place such a call again yourself. ${CALL_CAUTION}`;

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
  const at = text(args, "at", false);
  const timeZone = text(args, "timeZone", false);
  const whenAllowed = args["whenAllowed"];
  if (whenAllowed !== undefined && whenAllowed !== null && typeof whenAllowed !== "boolean") {
    throw new BadInput("whenAllowed must be true or false; the call was not placed.");
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
    ...(at ? { at } : {}),
    ...(timeZone ? { timeZone } : {}),
    ...(whenAllowed === true ? { whenAllowed } : {}),
  };
}

/** Follow what make_phone_call placed: a call with a schedule (retries, or a call for
 * later) through that schedule, to its final attempt. */
function watch(push: ResultPush, answer: PlaceAnswer, session: SessionTarget): Promise<void> {
  if (answer.call === undefined) return push.trackSchedule(answer.schedule, session);
  return answer.schedule
    ? push.trackSchedule(answer.schedule, session, answer.call.id)
    : push.track(answer.call.id, session);
}

/** make_phone_call's answer for a call stored for later: no call yet. */
function scheduledResult(
  schedule: ScheduleRecord,
  body: PlaceCallBody,
  pushed: boolean,
): ToolResult {
  return ok(scheduledAnswer(schedule, body, pushed), {
    call: { id: schedule.id, status: "scheduled", to: schedule.to_number },
    schedule: scheduleDetails(schedule),
    resultPushed: pushed,
  });
}

/** make_phone_call's answer for a call placed now (with its schedule when the server
 * retries). */
function placedResult(
  call: CallRecord,
  schedule: ScheduleRecord | undefined,
  pushed: boolean,
): ToolResult {
  const details = {
    call: { id: call.id, status: call.status, to: call.to_number },
    ...(schedule ? { schedule: scheduleDetails(schedule) } : {}),
    resultPushed: pushed,
  };
  if (schedule) return ok(retriedAnswer(call, schedule, pushed), details);
  const next = pushed
    ? "Its result will arrive in this conversation when the call ends; you do not need to wait or poll."
    : `Its result will not arrive here by itself: check on it later with get_call (call_id "${call.id}").`;
  return ok(
    `Placed call ${call.id} to ${call.to_number} (status: ${call.status}). ${next}`,
    details,
  );
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
  idDescription: string = describe(name, "call_id"),
): AnyAgentTool {
  return {
    name,
    label,
    description,
    parameters: {
      type: "object",
      additionalProperties: false,
      required: ["call_id"],
      properties: { call_id: { type: "string", description: idDescription } },
    },
    resultContentSource: "network",
    execute: (_toolCallId, params) => {
      let id = "";
      return guarded(
        async () => {
          id = callId(fields(params));
          return act(id);
        },
        (error) =>
          error.kind !== "not-found"
            ? error.message
            : `There is no ${id.startsWith(SCHEDULE_PREFIX) ? "scheduled call" : "call"} with id ${id}.`,
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
        at: { type: "string", maxLength: 64, description: describe("make_phone_call", "at") },
        timeZone: {
          type: "string",
          maxLength: 64,
          description: describe("make_phone_call", "timeZone"),
        },
        whenAllowed: {
          type: "boolean",
          default: false,
          description: describe("make_phone_call", "whenAllowed"),
        },
      },
    },
    execute: (_toolCallId, params) =>
      guarded(async () => {
        const body = placeBody(fields(params), target?.sessionKey);
        const answer = await deps.client().requestCall(body);
        let pushed = false;
        if (target) {
          try {
            await watch(deps.push, answer, target);
            pushed = true;
          } catch (error) {
            const id = answer.call?.id ?? answer.schedule?.id;
            deps.logWarn(`voicecall-rt: ${id} is placed but not watched: ${String(error)}`);
          }
        }
        return answer.call === undefined
          ? scheduledResult(answer.schedule, body, pushed)
          : placedResult(answer.call, answer.schedule, pushed);
      }, placeRefusal),
  };

  const getCall = callIdTool(
    "get_call",
    "Get a call",
    `${GET_CALL_DESCRIPTION} ${GET_SCHEDULE}`,
    async (id) => {
      const client = deps.client();
      if (!id.startsWith(SCHEDULE_PREFIX)) {
        const view = await client.getCall(id);
        return ok(callText(view), callDetails(view));
      }
      const schedule = await client.getSchedule(id);
      if (schedule.last_call_id === null || schedule.state === "pending") {
        const { text, details } = scheduleResult(schedule);
        return ok(text, details);
      }
      const { text, details } = attemptResult(
        schedule,
        await client.getCall(schedule.last_call_id),
      );
      return ok(text, details);
    },
    `${describe("get_call", "call_id")} Or a scheduled call's id, e.g. sched_0123456789abcdef.`,
  );

  const listCalls: AnyAgentTool = {
    name: "list_calls",
    label: "List calls",
    description: `${LIST_CALLS_DESCRIPTION} ${LIST_SCHEDULED}`,
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
        const client = deps.client();
        const calls = await client.listCalls({ limit: rawLimit, activeOnly });
        const scheduled = await client.liveSchedules(rawLimit);
        const lines =
          calls.length === 0
            ? [activeOnly ? "No call is live." : "No calls yet."]
            : calls.map(listLine);
        if (scheduled.length > 0) {
          lines.push("Scheduled, not over yet:", ...scheduled.map(scheduleLine));
        }
        return ok(lines.join("\n"), {
          calls: calls.map((call) => ({
            id: call.id,
            status: call.status,
            number: otherParty(call),
          })),
          scheduled: scheduled.map(scheduleDetails),
        });
      }),
  };

  const hangUp = callIdTool("hang_up", "Hang up a call", HANG_UP_DESCRIPTION, async (id) => {
    const client = deps.client();
    if (id.startsWith(SCHEDULE_PREFIX)) {
      throw new BadInput(
        `${id} is a scheduled call, not a live one: hang up its live attempt by that call's id` +
          ` (get_call with call_id "${id}" shows it), or use cancel_scheduled_call with` +
          ` schedule_id "${id}" to cancel what is still to come.`,
      );
    }
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

  return [makePhoneCall, getCall, listCalls, hangUp, cancelScheduledCall(deps)];
}
