/**
 * A token given as a SecretRef, for CLI commands. The gateway hands the plugin its config
 * with SecretRefs resolved, but a CLI command's registration sees them as written; the
 * SDK resolves one the same way the gateway would (env, file, exec or store).
 */

import type { CliContext } from "./host.js";
import { type PluginSettings, TOKEN_PATH } from "./config.js";

export async function resolveCliSettings(
  settings: PluginSettings,
  config: CliContext["config"],
): Promise<PluginSettings> {
  if (settings.tokenRef === undefined) return settings;
  // Loaded only here: most commands, and the gateway itself, never need it.
  const { resolveConfiguredSecretInputString } =
    await import("openclaw/plugin-sdk/secret-input-runtime");
  const { value } = await resolveConfiguredSecretInputString({
    config,
    env: process.env,
    value: settings.tokenRef,
    path: TOKEN_PATH,
  });
  return value ? { ...settings, token: value, tokenRef: undefined } : settings;
}
