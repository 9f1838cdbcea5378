/**
 * `openclaw voicecall-rt call|status|calls`: the same thin client, for people at a shell.
 * The options mirror `voicecall-rt call` (--number, --task, --prompt-file,
 * --outcome-schema, --wait, --json). Failures print one sentence and exit non-zero.
 */

import { readFile } from "node:fs/promises";

import type { CallView } from "./api-types.js";
import { ApiError, type VoicecallClient, notPlaced } from "./client.js";
import type { CliProgram } from "./host.js";
import { POLL_WAIT_S } from "./following.js";
import { callText, listLine } from "./results.js";

export const CLI_COMMAND = "voicecall-rt";
export const CLI_DESCRIPTION = "Place and check phone calls through the voicecall-rt server";

/** Where the commands write; the plugin passes the process's streams. */
export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
  fail: () => void;
}

export const processIo: CliIo = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  fail: () => {
    process.exitCode = 1;
  },
};

class CliError extends Error {}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    throw new CliError(
      `Cannot read ${what} ${path} (${(error as NodeJS.ErrnoException).code ?? "error"}).`,
    );
  }
}

async function readSchema(path: string): Promise<Record<string, unknown>> {
  const raw = await readText(path, "the outcome schema file");
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    throw new CliError(
      `The outcome schema file ${path} is not valid JSON: ${(error as Error).message}.`,
    );
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new CliError(`The outcome schema file ${path} must hold a JSON object (a JSON Schema).`);
  }
  return value as Record<string, unknown>;
}

/** Follow a call to its end in bounded long polls. */
async function settle(client: VoicecallClient, callId: string): Promise<CallView> {
  for (;;) {
    const view = await client.getCall(callId, { waitS: POLL_WAIT_S });
    if (!view.active) return view;
  }
}

function show(io: CliIo, view: CallView, json: boolean): void {
  io.out(json ? JSON.stringify(view, null, 2) : callText(view));
}

/** Run one command's body: a known failure is one sentence on stderr and exit status 1. */
async function run(io: CliIo, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    if (error instanceof ApiError || error instanceof CliError) {
      io.err(error.message);
      io.fail();
      return;
    }
    throw error;
  }
}

interface CallOptions {
  number: string;
  task?: string;
  promptFile?: string;
  outcomeSchema?: string;
  wait?: boolean;
  json?: boolean;
}

export function registerCommands(
  program: CliProgram,
  client: () => Promise<VoicecallClient>,
  io: CliIo,
): void {
  const root = program.command(CLI_COMMAND).description(CLI_DESCRIPTION);

  root
    .command("call")
    .description("Place a call: a voice AI calls the number and works through the task")
    .requiredOption("-n, --number <e164>", "number to call, E.164 (+14155551234)")
    .option("-t, --task <text>", "what the call should achieve", "")
    .option("--prompt-file <path>", "a fuller brief for the voice AI, from a file")
    .option("--outcome-schema <file>", "JSON Schema file for the outcome's details")
    .option("--wait", "wait for the call to end and print its result")
    .option("--json", "print JSON")
    .action((options: CallOptions) =>
      run(io, async () => {
        const body: Parameters<VoicecallClient["placeCall"]>[0] = {
          to: options.number,
          task: options.task ?? "",
        };
        if (options.promptFile) {
          body.systemPrompt = (await readText(options.promptFile, "the prompt file")).trim();
        }
        if (options.outcomeSchema) {
          body.outcomeSchema = await readSchema(options.outcomeSchema);
        }
        const api = await client();
        let call: Awaited<ReturnType<VoicecallClient["placeCall"]>>;
        try {
          call = await api.placeCall(body);
        } catch (error) {
          throw error instanceof ApiError ? new CliError(notPlaced(error)) : error;
        }
        if (!options.wait) {
          io.out(
            options.json
              ? JSON.stringify({ call }, null, 2)
              : `Placed call ${call.id} to ${call.to_number}.`,
          );
          return;
        }
        show(io, await settle(api, call.id), options.json === true);
      }),
    );

  root
    .command("status")
    .description("Show one call: status, outcome and transcript")
    .argument("<callId>", "the call id, e.g. call_0123456789abcdef")
    .option("--wait", "wait for the call to end first")
    .option("--json", "print JSON")
    .action((callId: string, options: { wait?: boolean; json?: boolean }) =>
      run(io, async () => {
        const api = await client();
        try {
          show(
            io,
            options.wait ? await settle(api, callId) : await api.getCall(callId),
            options.json === true,
          );
        } catch (error) {
          if (error instanceof ApiError && error.kind === "not-found") {
            throw new CliError(`There is no call with id ${callId}.`);
          }
          throw error;
        }
      }),
    );

  root
    .command("calls")
    .description("List recent calls, newest first")
    .option("--active", "only calls still ringing or in progress")
    .option("--limit <n>", "how many calls", "20")
    .option("--json", "print JSON")
    .action((options: { active?: boolean; limit: string; json?: boolean }) =>
      run(io, async () => {
        const limit = Number(options.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
          throw new CliError("--limit must be a whole number from 1 to 500.");
        }
        const calls = await (
          await client()
        ).listCalls({ limit, activeOnly: options.active === true });
        if (options.json) {
          io.out(JSON.stringify({ calls }, null, 2));
        } else {
          io.out(calls.length ? calls.map(listLine).join("\n") : "No calls.");
        }
      }),
    );
}
