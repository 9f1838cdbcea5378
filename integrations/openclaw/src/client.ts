/**
 * A thin client of the voicecall-rt server's local API. Every failure becomes an
 * `ApiError` whose message is one sentence for the agent (or the person at the CLI): what
 * went wrong and what to do, never a stack trace and never the token.
 */

import {
  type CallRecord,
  type CallView,
  type PlaceAnswer,
  type PlaceCallBody,
  type ScheduleRecord,
  isCallRecord,
  isCallView,
  isObject,
  isScheduleRecord,
} from "./api-types.js";
import { type PluginSettings, defaultTokenFile, resolveToken } from "./config.js";

/** The server holds a long poll for at most a minute (web/api.py MAX_WAIT_S). */
export const MAX_WAIT_S = 60;
/** Time on top of a long poll's own wait before a request is given up as unanswered. */
const ANSWER_GRACE_MS = 15_000;
const REQUEST_TIMEOUT_MS = 30_000;
const START_HINT = "start it with `voicecall-rt serve`";

export type ApiErrorKind = "no-server" | "auth" | "not-found" | "refused" | "server" | "protocol";

export class ApiError extends Error {
  readonly kind: ApiErrorKind;
  readonly status: number | undefined;
  readonly code: string | undefined;

  constructor(message: string, kind: ApiErrorKind, status?: number, code?: string) {
    super(message);
    this.name = "ApiError";
    this.kind = kind;
    this.status = status;
    this.code = code;
  }
}

/** A failure to place a call, as one sentence that says the call was not placed. */
export function notPlaced(error: ApiError): string {
  const reason = error.message.replace(/[.\s]+$/, "");
  return `The call was not placed: ${reason.charAt(0).toLowerCase()}${reason.slice(1)}.`;
}

interface RequestOptions {
  body?: unknown;
  timeoutMs?: number;
  signal?: AbortSignal | undefined;
}

function networkCode(error: unknown): string | undefined {
  // undici wraps the socket error: TypeError("fetch failed") with the errno in `cause`.
  const cause = (error as { cause?: { code?: unknown } }).cause;
  return typeof cause?.code === "string" ? cause.code : undefined;
}

function apiMessage(data: unknown): { code?: string; message?: string } {
  const error = isObject(data) ? data["error"] : undefined;
  if (!isObject(error)) {
    return {};
  }
  const out: { code?: string; message?: string } = {};
  if (typeof error["code"] === "string") out.code = error["code"];
  if (typeof error["message"] === "string") out.message = error["message"];
  return out;
}

export class VoicecallClient {
  readonly settings: PluginSettings;

  constructor(settings: PluginSettings) {
    this.settings = settings;
  }

  get url(): string {
    return this.settings.url;
  }

  /** A call placed now, or (with `at`, or `whenAllowed` outside calling hours) only its
   * schedule: the call is placed when it is due. */
  async requestCall(body: PlaceCallBody): Promise<PlaceAnswer> {
    const data = await this.request("POST", "/api/calls", { body });
    const call = isObject(data) ? data["call"] : undefined;
    const schedule = isObject(data) ? data["schedule"] : undefined;
    if (schedule !== undefined && !isScheduleRecord(schedule)) {
      throw this.notOurApi();
    }
    if (isCallRecord(call)) {
      return schedule ? { call, schedule } : { call };
    }
    if (call !== undefined || schedule === undefined) {
      throw this.notOurApi();
    }
    return { schedule };
  }

  /** A call placed now (a body without `at` or `whenAllowed`). */
  async placeCall(body: PlaceCallBody): Promise<CallRecord> {
    const answer = await this.requestCall(body);
    if (answer.call === undefined) {
      throw this.notOurApi();
    }
    return answer.call;
  }

  async getSchedule(
    scheduleId: string,
    options: { signal?: AbortSignal | undefined } = {},
  ): Promise<ScheduleRecord> {
    const path = `/api/schedules/${encodeURIComponent(scheduleId)}`;
    return this.scheduleOf(await this.request("GET", path, { signal: options.signal }));
  }

  /** The schedules still to run or under way (pending, placing, waiting), soonest due
   * first. */
  async liveSchedules(limit: number): Promise<ScheduleRecord[]> {
    const data = await this.request("GET", `/api/schedules?live=1&limit=${limit}`);
    const schedules = isObject(data) ? data["schedules"] : undefined;
    if (!Array.isArray(schedules) || !schedules.every(isScheduleRecord)) {
      throw this.notOurApi();
    }
    return schedules;
  }

  /** No further attempt (a live one goes on). A schedule over already is refused, 409
   * `schedule-over`. */
  async cancelSchedule(scheduleId: string): Promise<ScheduleRecord> {
    const path = `/api/schedules/${encodeURIComponent(scheduleId)}`;
    return this.scheduleOf(await this.request("DELETE", path));
  }

  private scheduleOf(data: unknown): ScheduleRecord {
    const schedule = isObject(data) ? data["schedule"] : undefined;
    if (!isScheduleRecord(schedule)) {
      throw this.notOurApi();
    }
    return schedule;
  }

  /** One call; with `waitS` the server holds the answer until the call settles or the
   * wait is over (a bounded long poll, at most MAX_WAIT_S). */
  async getCall(
    callId: string,
    options: { waitS?: number; signal?: AbortSignal | undefined } = {},
  ): Promise<CallView> {
    const waitS = Math.max(0, Math.min(MAX_WAIT_S, options.waitS ?? 0));
    const path = `/api/calls/${encodeURIComponent(callId)}${waitS > 0 ? `?wait=${waitS}` : ""}`;
    const data = await this.request("GET", path, {
      timeoutMs: waitS * 1000 + ANSWER_GRACE_MS,
      signal: options.signal,
    });
    if (!isCallView(data)) {
      throw this.notOurApi();
    }
    return data;
  }

  async listCalls(options: { limit: number; activeOnly: boolean }): Promise<CallRecord[]> {
    const query = `?limit=${options.limit}${options.activeOnly ? "&active=1" : ""}`;
    const data = await this.request("GET", `/api/calls${query}`);
    const calls = isObject(data) ? data["calls"] : undefined;
    if (!Array.isArray(calls) || !calls.every(isCallRecord)) {
      throw this.notOurApi();
    }
    return calls;
  }

  async hangUp(callId: string): Promise<void> {
    await this.request("POST", `/api/calls/${encodeURIComponent(callId)}/hangup`);
  }

  private notOurApi(status?: number): ApiError {
    return new ApiError(
      `The server at ${this.url} answered${status ? ` (HTTP ${status})` : ""} with something` +
        " that is not the voicecall-rt API; check the plugin's url setting.",
      "protocol",
      status,
    );
  }

  private async authorization(): Promise<string> {
    let token: string | undefined;
    try {
      token = await resolveToken(this.settings);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? "unreadable";
      throw new ApiError(
        `The voicecall-rt API token file ${defaultTokenFile()} could not be read (${code});` +
          " set the plugin's token setting instead.",
        "auth",
      );
    }
    if (token === undefined && this.settings.tokenRef !== undefined) {
      throw new ApiError(
        "The plugin's token setting is a SecretRef that OpenClaw did not resolve; check that" +
          " its secret is available (`openclaw secrets audit`) or set the token itself.",
        "auth",
      );
    }
    if (token === undefined) {
      throw new ApiError(
        `No voicecall-rt API token: set the plugin's token setting, or ${START_HINT} once` +
          ` so that it writes ${defaultTokenFile()}.`,
        "auth",
      );
    }
    return `Bearer ${token}`;
  }

  private async request(
    method: string,
    path: string,
    options: RequestOptions = {},
  ): Promise<unknown> {
    const headers: Record<string, string> = {
      Authorization: await this.authorization(),
      Accept: "application/json",
    };
    if (options.body !== undefined) {
      headers["Content-Type"] = "application/json";
    }
    const timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    let response: Response;
    let text: string;
    try {
      response = await fetch(this.url + path, {
        method,
        headers,
        signal,
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
      });
      text = await response.text();
    } catch (error) {
      if (options.signal?.aborted) {
        throw options.signal.reason ?? error;
      }
      if (timeout.aborted) {
        throw new ApiError(
          `The voicecall-rt server at ${this.url} did not answer within ${Math.round(timeoutMs / 1000)} s.`,
          "no-server",
        );
      }
      const code = networkCode(error);
      throw new ApiError(
        `No voicecall-rt server is reachable at ${this.url}${code ? ` (${code})` : ""}; ` +
          `${START_HINT}, or fix the plugin's url setting.`,
        "no-server",
      );
    }
    let data: unknown;
    try {
      data = text ? JSON.parse(text) : undefined;
    } catch {
      throw this.notOurApi(response.status);
    }
    if (response.ok) {
      return data;
    }
    const { code, message } = apiMessage(data);
    if (message === undefined) {
      throw this.notOurApi(response.status);
    }
    if (response.status === 401) {
      throw new ApiError(
        `The voicecall-rt server at ${this.url} refused the API token; set the plugin's token` +
          ` to the contents of the server's api-token file (${defaultTokenFile()} by default).`,
        "auth",
        401,
        code,
      );
    }
    const kind: ApiErrorKind =
      response.status === 404 ? "not-found" : response.status < 500 ? "refused" : "server";
    throw new ApiError(message, kind, response.status, code);
  }
}
