/**
 * The plugin's settings (`plugins.entries.voicecall-rt.config`, validated by the manifest's
 * configSchema before the plugin loads): where the server listens and its API token.
 */

import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";

/** The server's default `server.port` (src/voicecall_rt/config.py ServerSettings). */
export const DEFAULT_URL = "http://127.0.0.1:3335";

/** Where the server writes its API token on first start, with the default data dir. */
export function defaultTokenFile(): string {
  return join(homedir(), ".openclaw", "voice-calls-realtime", "api-token");
}

/** Where the token lives in OpenClaw's config (SecretRefs are resolved by that path). */
export const TOKEN_PATH = "plugins.entries.voicecall-rt.config.token";

export interface PluginSettings {
  /** The server's base URL, without a trailing slash. */
  url: string;
  /** The configured token, if any; otherwise the default token file is read per request. */
  token: string | undefined;
  /** A SecretRef the host has not resolved (it does for the gateway, not for CLI commands). */
  tokenRef: Record<string, unknown> | undefined;
}

export function readSettings(pluginConfig: Record<string, unknown> | undefined): PluginSettings {
  const url = pluginConfig?.["url"];
  const token = pluginConfig?.["token"];
  return {
    url: (typeof url === "string" && url.trim() ? url.trim() : DEFAULT_URL).replace(/\/+$/, ""),
    token: typeof token === "string" && token.trim() ? token.trim() : undefined,
    tokenRef:
      typeof token === "object" && token !== null && !Array.isArray(token)
        ? (token as Record<string, unknown>)
        : undefined,
  };
}

/**
 * The token to send: the configured one, else the server's token file, read each time so
 * that a gateway started before the server works once the server is up. Undefined when
 * there is neither.
 */
export async function resolveToken(settings: PluginSettings): Promise<string | undefined> {
  if (settings.token !== undefined || settings.tokenRef !== undefined) {
    return settings.token;
  }
  try {
    const text = (await readFile(defaultTokenFile(), "utf8")).trim();
    return text || undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      return undefined;
    }
    throw error;
  }
}
