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

/** `POST /api/calls`. `outcomeSchema` is sent only when given (older servers refuse it). */
export interface PlaceCallBody {
  to: string;
  task: string;
  systemPrompt?: string;
  sessionKey?: string;
  outcomeSchema?: Record<string, unknown>;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Whether an answer is a call record as the API gives it (enough to read it safely). */
export function isCallRecord(value: unknown): value is CallRecord {
  return (
    isObject(value) &&
    typeof value["id"] === "string" &&
    typeof value["status"] === "string" &&
    typeof value["to_number"] === "string" &&
    typeof value["from_number"] === "string" &&
    isObject(value["cost"])
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
