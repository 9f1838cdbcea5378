/**
 * The shapes of the voicecall-rt local API's answers this plugin reads (the server's
 * OpenAPI document at GET /api/openapi.json describes them all; src/voicecall_rt/web/api.py
 * builds them). Only the fields used here are declared.
 */

export type CallStatus =
  | "initiating"
  | "queued"
  | "ringing"
  | "in-progress"
  | "completed"
  | "busy"
  | "failed"
  | "no-answer"
  | "canceled";

export interface CallOutcome {
  success: boolean;
  summary: string;
  details: Record<string, unknown>;
}

export interface CallCost {
  total_usd: number | null;
  currency: string;
  priced: boolean;
}

export interface CallRecord {
  id: string;
  direction: "outbound" | "inbound";
  from_number: string;
  to_number: string;
  task: string;
  status: CallStatus;
  created_at: number;
  ended_at: number | null;
  end_reason: string | null;
  answered_by: string | null;
  outcome: CallOutcome | null;
  error: string | null;
  notify_session_key: string | null;
  duration_s: number | null;
  cost: CallCost;
}

export interface TranscriptLine {
  seq: number;
  role: "caller" | "assistant" | "system";
  text: string;
  interrupted: boolean;
}

/** `GET /api/calls/{id}`: the call, whether it is still live, and what was said. */
export interface CallView {
  call: CallRecord;
  active: boolean;
  transcript: TranscriptLine[];
}

/** `POST /api/calls`. The optional fields are sent only when given (older servers refuse
 * what they do not know). */
export interface PlaceCallBody {
  to: string;
  task: string;
  systemPrompt?: string;
  sessionKey?: string;
  outcomeSchema?: Record<string, unknown>;
  /** ISO 8601: place the call then (HTTP 202 with the schedule, no call yet). */
  at?: string;
  /** The IANA zone of an `at` without an offset. */
  timeZone?: string;
  /** Outside the callee's calling hours: schedule it for the next allowed time (202). */
  whenAllowed?: boolean;
}

export type ScheduleState = "pending" | "placing" | "waiting" | "done" | "canceled" | "failed";

/** A call for later, or the retries of one (src/voicecall_rt/store/schedules.py). Times
 * are epoch milliseconds. */
export interface ScheduleRecord {
  id: string;
  to_number: string;
  task: string;
  due_at: number;
  state: ScheduleState;
  attempts_made: number;
  max_attempts: number;
  when_allowed: boolean;
  last_call_id: string | null;
  reason: string | null;
}

/** `POST /api/calls`'s answer: the call placed now (201, with its schedule when retries
 * are configured), or only the schedule of a call for later (202). */
export type PlaceAnswer =
  { call: CallRecord; schedule?: ScheduleRecord } | { call?: undefined; schedule: ScheduleRecord };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

type FieldKind = "string" | "number" | "object";

/** Whether `value` is an object whose named fields have these kinds. */
function hasFields(
  value: unknown,
  fields: Record<string, FieldKind>,
): value is Record<string, unknown> {
  return (
    isObject(value) &&
    Object.entries(fields).every(([name, kind]) =>
      kind === "object" ? isObject(value[name]) : typeof value[name] === kind,
    )
  );
}

/** Whether an answer is a call record as the API gives it (enough to read it safely). */
export function isCallRecord(value: unknown): value is CallRecord {
  return hasFields(value, {
    id: "string",
    status: "string",
    to_number: "string",
    from_number: "string",
    cost: "object",
  });
}

export function isScheduleRecord(value: unknown): value is ScheduleRecord {
  return (
    hasFields(value, {
      id: "string",
      to_number: "string",
      due_at: "number",
      state: "string",
      attempts_made: "number",
      max_attempts: "number",
    }) &&
    (value["last_call_id"] === null || typeof value["last_call_id"] === "string")
  );
}

export function isCallView(value: unknown): value is CallView {
  return (
    isObject(value) &&
    isCallRecord(value["call"]) &&
    typeof value["active"] === "boolean" &&
    Array.isArray(value["transcript"])
  );
}

export { isObject };
