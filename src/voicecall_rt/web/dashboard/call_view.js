// voicecall-rt dashboard, drawing one call's page from what is known of it: the error,
// facts, outcome, transcript and events, and the debug recordings. Uses common.js and
// latency_chart.js (window.voicecall), loaded before it.
"use strict";

(function () {
  const {
    ACTIVE, el, $, formatDate, formatDuration, formatOffset, formatUsd, costTotal, durationOf,
    numberOf, statusBadge, api, report, renderLatency,
  } = window.voicecall;

  // Calls the model ended (call/bridge.py): what the end reason tells the reader.
  const MODEL_END_REASONS = {
    "model-fatal": "OpenAI refused the account — every call will fail until it is fixed",
    "model-refused": "OpenAI refused the session this call needed",
    "model-failed": "The model failed again after one retry",
  };

  function roleLabel(role, call) {
    if (role === "assistant") return "AI";
    if (role === "caller") return call && call.direction === "inbound" ? "Caller" : "Callee";
    return "Keypad";
  }

  // Timeline entries for journal events worth showing a person (null: not shown).
  function describeEvent(event) {
    const data = event.data || {};
    switch (event.kind) {
      case "placed": return ["dial", "Dialing " + (data.to || "")];
      case "status": return ["status", "Status: " + data.status];
      case "answered": return ["status", "Answered"];
      case "amd": return ["status", `Answering-machine detection: ${data.answered_by}` +
        (typeof data.duration_ms === "number" ? ` (${data.duration_ms} ms)` : "")];
      case "barge_in": return ["barge", "The other side talked over the AI: playback cut"];
      case "voicemail": return ["voicemail", "Voicemail: an answering machine took the call; leaving a message"];
      case "outcome": return ["outcome", `Outcome reported (${data.success ? "success" : "not achieved"}): ${data.summary}`];
      case "tool": return ["tool", `Tool ${data.name}` + (data.reason ? `: ${data.reason}` : "")];
      case "tool.error": return ["error", `Tool ${data.name} failed: ${data.error}`];
      case "silence.nudge": return ["status", "Silence on the line: the AI was nudged"];
      case "model.error": return ["error", "Model error: " + (data.message || data.code || "")];
      case "model.failed": return ["error", "Model connection failed: " + (data.error || "")];
      case "model.fatal": return ["error", "Model account error, the call ends: " + (data.error || "")];
      case "model.refused": return ["error", "Model session refused, the call ends: " + (data.error || "")];
      case "model.response_failed": return ["error", "Model response failed: " + (data.error || data.code || "")];
      case "model.incomplete": return ["status", "Model response incomplete" + (data.reason ? ` (${data.reason})` : "")];
      case "model.lost": return ["status", "Model session lost" + (data.cause ? ` (${data.cause})` : "") + ": renewing"];
      case "model.renewed": return ["status", "Model session renewed" + (typeof data.gap_ms === "number" ? ` after ${data.gap_ms} ms` : "")];
      case "model.renew_failed": return ["error", "Model session could not be renewed: " + (data.error || "")];
      case "transcription.failed": return ["error", "The other side's words could not be transcribed: " + (data.error || "")];
      case "hangup.failed": return ["error", "Hang-up failed: " + (data.error || "")];
      case "settled": return ["status", `Call ended: ${data.status}` + (data.reason ? ` (${data.reason})` : "")];
      default: return null;
    }
  }

  function factRows(call) {
    const facts = [
      ["Started", formatDate(call.created_at)],
      ["Direction", call.direction],
      ["From", call.from_number],
      ["To", call.to_number],
      ["Duration", formatDuration(durationOf(call))],
      ["Answered by", call.answered_by],
      ["End reason", call.end_reason],
      ["Error", call.error],
    ];
    const cost = call.cost;
    if (cost !== undefined && cost !== null) {
      const unpricedTranscription = typeof cost === "object" && cost.transcription_usd === null &&
        cost.model_usd !== null;
      let text = costTotal(cost) || (unpricedTranscription
        ? `unknown (no price for transcription model ${cost.transcription_model})`
        : "unknown (no price for this model)");
      if (typeof cost === "object") {
        const parts = [];
        if (formatUsd(cost.model_usd)) parts.push(`model ${formatUsd(cost.model_usd)}`);
        if (cost.transcription_usd) parts.push(`transcription ${formatUsd(cost.transcription_usd)}`);
        if (formatUsd(cost.carrier_usd)) {
          parts.push(`carrier ${formatUsd(cost.carrier_usd)}` +
            (typeof cost.carrier_minutes === "number" ? ` (${cost.carrier_minutes} min)` : ""));
        }
        if (parts.length) text += " — " + parts.join(", ");
      }
      facts.push(["Cost", text]);
    }
    facts.push(["Task", call.task]);
    facts.push(["Call id", call.id]);
    const nodes = [];
    for (const [name, value] of facts) {
      if (value === null || value === undefined || value === "") continue;
      nodes.push(el("dt", null, name), el("dd", { class: name === "Task" ? "task" : null }, value));
    }
    return nodes;
  }

  function renderOutcome(call) {
    const box = $("outcome");
    const outcome = call.outcome;
    if (!outcome) {
      box.replaceChildren(el("p", { class: "muted" },
        ACTIVE.has(call.status) ? "The call is still going." : "No outcome was reported."));
      return;
    }
    const details = Object.entries(outcome.details || {});
    const table = details.length
      ? el("table", { class: "details" }, el("tbody", null, ...details.map(([key, value]) =>
        el("tr", null, el("th", null, key.replace(/_/g, " ")),
          el("td", { "data-key": key }, typeof value === "string" ? value : JSON.stringify(value))))))
      : null;
    box.replaceChildren(...[
      el("p", { class: "verdict " + (outcome.success ? "ok" : "not-ok") },
        outcome.success ? "✓ Goal achieved" : "✗ Goal not achieved"),
      el("p", { class: "summary" }, outcome.summary),
      table,
    ].filter(Boolean));
  }

  function renderTimeline(state) {
    const items = [];
    for (const line of state.lines.values()) {
      items.push({ t: line.t_ms, order: 0, seq: line.seq, line });
    }
    for (const event of state.events.values()) {
      const shown = describeEvent(event);
      if (shown) items.push({ t: event.t_ms, order: 1, seq: event.seq, event, shown });
    }
    items.sort((a, b) => a.t - b.t || a.order - b.order || a.seq - b.seq);
    const nodes = items.map((item) => {
      if (item.line) {
        const line = item.line;
        const kind = line.role === "system" ? "keypad" : line.role;
        return el("li", {
          class: `line ${kind}` + (line.interrupted ? " interrupted" : ""),
          "data-seq": line.seq, "data-role": line.role,
        },
          el("span", { class: "time" }, formatOffset(line.t_ms)),
          el("span", { class: "who" }, roleLabel(line.role, state.call)),
          el("span", { class: "text" }, line.text,
            line.interrupted ? el("span", { class: "cut", title: "The other side talked over this line" }, "interrupted") : null),
        );
      }
      const [kind, text] = item.shown;
      return el("li", { class: `event ${kind}`, "data-kind": item.event.kind },
        el("span", { class: "time" }, formatOffset(item.event.t_ms)),
        el("span", { class: "who" }, "·"),
        el("span", { class: "text" }, text));
    });
    if (!nodes.length) nodes.push(el("li", { class: "empty muted" }, "Nothing said yet."));
    $("timeline").replaceChildren(...nodes);
  }

  const RECORDING_LABELS = {
    "call.wav": "Both sides (stereo)",
    "caller.wav": "Far end",
    "model.wav": "AI",
  };

  // `retries`: how many more times to look when none are there yet (a call that just ended
  // is still writing them).
  async function renderRecordings(callId, isCurrent, retries) {
    const box = $("recordings");
    let found = [];
    try {
      found = (await api(`/api/calls/${encodeURIComponent(callId)}/recordings`)).recordings;
    } catch (error) {
      report(error);
      return;
    }
    if (!isCurrent()) return;
    if (!found.length && retries > 0) {
      window.setTimeout(() => {
        if (isCurrent()) renderRecordings(callId, isCurrent, retries - 1);
      }, 1000);
    }
    if (!found.length) {
      box.replaceChildren(el("p", { class: "muted" },
        "No recordings for this call (they are kept in debug mode only)."));
      return;
    }
    box.replaceChildren(...found.map((rec) =>
      el("figure", { class: "recording", "data-name": rec.name },
        el("figcaption", null, RECORDING_LABELS[rec.name] || rec.name, " ",
          el("a", { href: rec.url, download: rec.name, class: "muted small" }, rec.name)),
        el("audio", { controls: true, preload: "none", src: rec.url }))));
  }

  // A call that ended on an error says so above everything else, with what it means.
  function renderCallError(call) {
    const box = $("call-error");
    box.hidden = !call.error;
    if (!call.error) return;
    box.dataset.reason = call.end_reason || "";
    $("call-error-title").textContent = (MODEL_END_REASONS[call.end_reason] || "The call failed") + ":";
    $("call-error-text").textContent = call.error;
  }

  function renderCall(state) {
    const call = state.call;
    if (!call) return;
    renderCallError(call);
    const direction = call.direction === "inbound" ? "Call from " : "Call to ";
    $("call-title").textContent = direction + (numberOf(call) || "unknown number");
    document.title = $("call-title").textContent + " · voicecall-rt";
    statusBadge($("call-status"), call.status);
    $("call-live").hidden = !state.live;
    $("hangup").hidden = !state.live;
    $("call-facts").replaceChildren(...factRows(call));
    renderOutcome(call);
    renderLatency(state);
    renderTimeline(state);
  }

  Object.assign(window.voicecall, { renderCall, renderRecordings });
})();
