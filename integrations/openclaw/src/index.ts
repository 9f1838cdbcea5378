/**
 * The voicecall-rt OpenClaw plugin: phone calls made by a voice AI through the voicecall-rt
 * server on this machine (`voicecall-rt serve`). The plugin is a thin client of that
 * server's local API; nothing of a call runs in the gateway.
 */

import { definePluginEntry } from "openclaw/plugin-sdk/plugin-entry";

import { PLUGIN_ID, registerVoicecall } from "./plugin.js";

export default definePluginEntry({
  id: PLUGIN_ID,
  name: "voicecall-rt phone calls",
  description:
    "Real phone calls made by a voice AI through your voicecall-rt server; each call's outcome" +
    " and transcript come back into the conversation that asked for it.",
  register(api) {
    registerVoicecall(api);
  },
});
