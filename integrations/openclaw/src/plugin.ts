/**
 * Everything the plugin registers, against the narrow host API of host.ts: the four agent
 * tools (made per turn, so that make_phone_call knows its session), the CLI commands, and
 * the service that resumes watching undelivered calls when the gateway starts.
 */

import { registerCommands, CLI_COMMAND, CLI_DESCRIPTION, type CliIo, processIo } from "./cli.js";
import { resolveCliSettings } from "./cli-secret.js";
import { VoicecallClient } from "./client.js";
import { readSettings } from "./config.js";
import type { PluginHost } from "./host.js";
import { ResultPush } from "./result-push.js";
import { TOOL_NAMES, createTools } from "./tools.js";

export const PLUGIN_ID = "voicecall-rt";
export const SERVICE_ID = "voicecall-rt-results";

export interface Registered {
  /** The watcher of placed calls (exposed for tests and diagnostics). */
  push: ResultPush;
}

export function registerVoicecall(host: PluginHost, io: CliIo = processIo): Registered {
  const settings = readSettings(host.pluginConfig);
  const client = (): VoicecallClient => new VoicecallClient(settings);
  const push = new ResultPush(host, client);

  host.registerTool(
    (context) =>
      createTools(context, { client, push, logWarn: (message) => host.logger.warn(message) }),
    { names: [...TOOL_NAMES] },
  );

  host.registerCli(
    ({ program, config }) =>
      registerCommands(
        program,
        async () => new VoicecallClient(await resolveCliSettings(settings, config)),
        io,
      ),
    {
      descriptors: [{ name: CLI_COMMAND, description: CLI_DESCRIPTION, hasSubcommands: true }],
    },
  );

  host.registerService({
    id: SERVICE_ID,
    start: async (ctx) => {
      const resumed = await push.resume();
      if (resumed.length > 0) {
        ctx.logger.info(
          `voicecall-rt: watching ${resumed.length} call(s) placed before the restart.`,
        );
      }
    },
    stop: () => push.stop(),
  });

  return { push };
}
