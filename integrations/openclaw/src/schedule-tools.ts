/**
 * cancel_scheduled_call, the MCP server's tool of that name: no further attempt of a
 * schedule (a call for later, or the retries of a call); a live attempt goes on. A schedule
 * this plugin follows and that never placed a call is forgotten, so nothing about it is
 * pushed; one that did is still followed, and its last attempt's result arrives as usual.
 */

import type { AnyAgentTool } from "openclaw/plugin-sdk/plugin-entry";

import type { VoicecallClient } from "./client.js";
import type { ResultPush } from "./result-push.js";
import { canceledAnswer, scheduleResult } from "./schedules.js";
import { CANCEL_SCHEDULED_CALL_DESCRIPTION } from "./shared-text.generated.js";
import { BadInput, describe, fields, guarded, ok, text } from "./tool-kit.js";

const SCHEDULE_ID = /^sched_[0-9a-f]{1,32}$/;

function scheduleId(args: Record<string, unknown>): string {
  const id = text(args, "schedule_id", true) ?? "";
  if (!SCHEDULE_ID.test(id)) {
    throw new BadInput(
      `${JSON.stringify(id.slice(0, 80))} is not a scheduled call's id (they look like` +
        " sched_0123456789abcdef).",
    );
  }
  return id;
}

export function cancelScheduledCall(deps: {
  client: () => VoicecallClient;
  push: ResultPush;
}): AnyAgentTool {
  return {
    name: "cancel_scheduled_call",
    label: "Cancel a scheduled call",
    description: CANCEL_SCHEDULED_CALL_DESCRIPTION,
    parameters: {
      type: "object",
      additionalProperties: false,
      required: ["schedule_id"],
      properties: {
        schedule_id: {
          type: "string",
          description: describe("cancel_scheduled_call", "schedule_id"),
        },
      },
    },
    execute: (_toolCallId, params) => {
      let id = "";
      return guarded(
        async () => {
          id = scheduleId(fields(params));
          const schedule = await deps.client().cancelSchedule(id);
          if (schedule.last_call_id === null) await deps.push.forget(id);
          const { details } = scheduleResult(schedule);
          return ok(canceledAnswer(schedule, deps.push.watching(id)), details);
        },
        (error) => {
          if (error.kind === "not-found") return `There is no scheduled call with id ${id}.`;
          if (error.code !== "schedule-over") return error.message;
          // "schedule sched_… is done already: nothing to cancel"
          const said = error.message.replace(/^schedule /, "").replace(/[.\s]+$/, "");
          return `Scheduled call ${said}.`;
        },
      );
    },
  };
}
