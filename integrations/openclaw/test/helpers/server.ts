/**
 * The real voicecall-rt server these tests talk to. tests/integration/test_openclaw_plugin.py
 * starts it (with the fake carrier and fake model) and passes where it is in the environment,
 * with the numbers whose calls it has scripted.
 */

import { createServer } from "node:net";
import { setTimeout as delay } from "node:timers/promises";

export function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(
      `${name} is not set: run these tests through tests/integration/test_openclaw_plugin.py`,
    );
  }
  return value;
}

/** What the booking call's script makes the voice AI report, and the far party's lines. */
export interface BookingScript {
  outcome: { success: boolean; summary: string; details: Record<string, unknown> };
  calleeLines: string[];
}

export const world = {
  url: required("VOICECALL_RT_URL"),
  token: required("VOICECALL_RT_TOKEN"),
  /** Answered; the voice AI books a table, reports the outcome and hangs up. */
  bookingNumber: required("VOICECALL_RT_BOOKING_NUMBER"),
  /** Answered, then the far party stays on the line until someone hangs up. */
  longNumber: required("VOICECALL_RT_LONG_NUMBER"),
  booking: JSON.parse(required("VOICECALL_RT_BOOKING_SCRIPT")) as BookingScript,
};

export async function api(method: string, path: string): Promise<unknown> {
  const response = await fetch(world.url + path, {
    method,
    headers: { Authorization: `Bearer ${world.token}` },
  });
  if (!response.ok)
    throw new Error(`${method} ${path}: HTTP ${response.status} ${await response.text()}`);
  return response.json();
}

/** Read the call's live event stream until it is answered (no clock involved). */
export async function untilAnswered(callId: string): Promise<void> {
  const response = await fetch(`${world.url}/api/calls/${callId}/events`, {
    headers: { Authorization: `Bearer ${world.token}` },
  });
  if (!response.body) throw new Error("the event stream has no body");
  const decoder = new TextDecoder();
  let seen = "";
  for await (const chunk of response.body) {
    seen += decoder.decode(chunk, { stream: true });
    if (/^event: answered$/m.test(seen)) return; // leaving the loop cancels the stream
    if (/^event: end$/m.test(seen)) throw new Error(`call ${callId} ended before it was answered`);
  }
  throw new Error(`the event stream of call ${callId} ended before it was answered`);
}

/** Wait (in the server's bounded long polls) until a call has settled. */
export async function untilSettled(callId: string): Promise<void> {
  for (;;) {
    const view = (await api("GET", `/api/calls/${callId}?wait=30`)) as { active: boolean };
    if (!view.active) return;
  }
}

/** The first call the server's scheduler placed for a schedule. There is nothing to wait
 * on for that, so the schedule is asked again every 20 ms (the pace of asking, not a
 * synchronisation), for at most 20 s. */
export async function untilPlaced(scheduleId: string): Promise<string> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const detail = (await api("GET", `/api/schedules/${scheduleId}`)) as {
      schedule: { last_call_id: string | null; state: string };
    };
    if (detail.schedule.last_call_id !== null) return detail.schedule.last_call_id;
    if (Date.now() > deadline) {
      throw new Error(`schedule ${scheduleId} was not placed (${detail.schedule.state})`);
    }
    await delay(20);
  }
}

/** A loopback port that was just free: nothing listens there. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}
