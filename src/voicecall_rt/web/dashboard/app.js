// voicecall-rt dashboard: plain JavaScript, no build step, nothing from the internet.
//
// Everything a call says is put on the page as text (textContent, text nodes, attribute
// values via setAttribute): never as HTML. The session is an HttpOnly cookie that this
// script cannot read; the server checks it on every /api/ request.
"use strict";

(function () {
  const ACTIVE = new Set(["initiating", "queued", "ringing", "in-progress"]);
  const LIST_REFRESH_MS = 2000;
  const RECORDING_WAIT_MS = 10000;
  const SVG_NS = "http://www.w3.org/2000/svg";
  // Named server-sent events the call page listens to (EventSource only delivers the
  // names it was asked for); anything else turns up when the call is re-read at its end.
  const STREAM_KINDS = [
    "transcript", "call.status", "status", "outcome", "tool", "tool.error", "dtmf",
    "barge_in", "voicemail", "amd", "turn.latency", "answered", "placed", "settled",
    "silence.nudge", "model.error", "model.failed", "hangup.failed",
    "model.fatal", "model.refused", "model.response_failed", "model.incomplete", "model.lost",
    "model.renewed", "model.renew_failed", "transcription.failed",
  ];
  // Calls the model ended (call/bridge.py): what the end reason tells the reader.
  const MODEL_END_REASONS = {
    "model-fatal": "OpenAI refused the account — every call will fail until it is fixed",
    "model-refused": "OpenAI refused the session this call needed",
    "model-failed": "The model failed again after one retry",
  };

  // ---- small helpers ---------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    setAttrs(node, attrs);
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    setAttrs(node, attrs);
    for (const child of children) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function setAttrs(node, attrs) {
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      node.setAttribute(name, value === true ? "" : String(value));
    }
  }

  const $ = (id) => document.getElementById(id);

  function callHref(id) {
    return "#/calls/" + encodeURIComponent(id);
  }

  function pad(n, width) {
    return String(n).padStart(width, "0");
  }

  const dateFormat = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
  const thisYearFormat = new Intl.DateTimeFormat(undefined, {
    month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit",
  });

  function formatDate(ms, short) {
    if (typeof ms !== "number") return "—";
    const date = new Date(ms);
    const sameYear = date.getFullYear() === new Date().getFullYear();
    return (short && sameYear ? thisYearFormat : dateFormat).format(date);
  }

  function formatDuration(seconds) {
    if (typeof seconds !== "number" || !isFinite(seconds)) return "—";
    const total = Math.round(seconds);
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = total % 60;
    return h ? `${h}:${pad(m, 2)}:${pad(s, 2)}` : `${m}:${pad(s, 2)}`;
  }

  function formatOffset(ms) {
    if (typeof ms !== "number") return "";
    const tenths = Math.max(0, Math.round(ms / 100));
    const m = Math.floor(tenths / 600);
    const s = (tenths % 600) / 10;
    return `${m}:${s < 10 ? "0" : ""}${s.toFixed(1)}`;
  }

  function formatUsd(value) {
    if (typeof value !== "number" || !isFinite(value)) return null;
    return value < 1 ? "$" + value.toFixed(4) : "$" + value.toFixed(2);
  }

  // The call's cost as the API gives it: {total_usd, model_usd, carrier_usd, ...} or a number.
  function costTotal(cost) {
    if (typeof cost === "number") return formatUsd(cost);
    if (cost && typeof cost === "object") return formatUsd(cost.total_usd);
    return null;
  }

  function durationOf(call) {
    if (typeof call.duration_s === "number" && !ACTIVE.has(call.status)) return call.duration_s;
    if (typeof call.answered_at !== "number") return null;
    const end = typeof call.ended_at === "number" ? call.ended_at : Date.now();
    return Math.max(0, (end - call.answered_at) / 1000);
  }

  function justEnded(call) {
    return typeof call.ended_at === "number" && Math.abs(Date.now() - call.ended_at) < RECORDING_WAIT_MS;
  }

  function numberOf(call) {
    return call.direction === "inbound" ? call.from_number : call.to_number;
  }

  function statusBadge(node, status) {
    node.textContent = status || "—";
    node.className = "badge status-" + String(status || "unknown").replace(/[^a-z-]/g, "");
    if (ACTIVE.has(status)) node.classList.add("active");
  }

  function showNotice(text) {
    const notice = $("notice");
    if (!notice) return;
    notice.textContent = text || "";
    notice.hidden = !text;
  }

  class Unauthorized extends Error {}

  async function api(path, options) {
    const response = await fetch(path, Object.assign({ credentials: "same-origin" }, options));
    if (response.status === 401) {
      window.location.assign("/login");
      throw new Unauthorized("signed out");
    }
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      const message = body && body.error ? body.error.message : response.statusText;
      throw new Error(`${response.status}: ${message}`);
    }
    return body;
  }

  function report(error) {
    if (!(error instanceof Unauthorized)) showNotice("Could not reach the server: " + error.message);
  }

  // ---- routing ---------------------------------------------------------------------

  let leave = () => {};

  function route() {
    leave();
    leave = () => {};
    showNotice("");
    const match = /^#\/calls\/([^/]+)$/.exec(window.location.hash);
    const overview = window.location.hash.startsWith("#/overview");
    $("view-list").hidden = Boolean(match) || overview;
    $("view-call").hidden = !match;
    $("view-overview").hidden = !overview;
    if (match) {
      leave = showCall(decodeURIComponent(match[1]));
    } else if (overview) {
      leave = window.voicecall.showOverview();  // overview.js
    } else {
      leave = showList();
    }
  }

  // ---- calls list ------------------------------------------------------------------

  let calls = [];

  function matches(call) {
    const direction = $("filter-direction").value;
    const status = $("filter-status").value;
    const text = $("filter-text").value.trim().toLowerCase();
    if (direction && call.direction !== direction) return false;
    if (status === "active" ? !ACTIVE.has(call.status) : status && call.status !== status) {
      return false;
    }
    if (text) {
      const outcome = call.outcome || {};
      const haystack = [
        call.id, call.to_number, call.from_number, call.task, call.status, call.end_reason,
        outcome.summary, JSON.stringify(outcome.details || {}),
      ].join(" ").toLowerCase();
      if (!haystack.includes(text)) return false;
    }
    return true;
  }

  function outcomeCell(call) {
    const outcome = call.outcome;
    if (outcome) {
      return el("td", { class: "outcome " + (outcome.success ? "ok" : "not-ok"), title: outcome.summary },
        el("span", { class: "mark", "aria-hidden": "true" }, outcome.success ? "✓" : "✗"),
        " ", outcome.summary);
    }
    return el("td", { class: "outcome muted" }, call.end_reason || (ACTIVE.has(call.status) ? "…" : "—"));
  }

  function renderList() {
    const shown = calls.filter(matches);
    const rows = shown.map((call) => {
      const status = el("span");
      statusBadge(status, call.status);
      const row = el("tr", { "data-call-id": call.id, "data-status": call.status },
        el("td", null, el("a", { href: callHref(call.id) }, formatDate(call.created_at, true))),
        el("td", { class: "direction" }, call.direction === "inbound" ? "↙ inbound" : "↗ outbound"),
        el("td", { class: "number" }, numberOf(call) || "—"),
        el("td", null, status),
        el("td", { class: "num" }, formatDuration(durationOf(call))),
        outcomeCell(call),
        el("td", { class: "num" }, costTotal(call.cost) || "—"),
      );
      row.addEventListener("click", (event) => {
        if (!(event.target instanceof HTMLAnchorElement)) window.location.hash = callHref(call.id);
      });
      return row;
    });
    $("calls-body").replaceChildren(...rows);
    const empty = $("calls-empty");
    empty.hidden = shown.length > 0;
    empty.textContent = calls.length ? "No calls match these filters." : "No calls yet.";
  }

  function showList() {
    let timer = 0;
    let stopped = false;
    async function refresh() {
      if (!document.hidden) {
        try {
          calls = (await api("/api/calls?limit=200")).calls;
          renderList();
          showNotice("");
          $("list-updated").textContent = "Updated " + new Date().toLocaleTimeString();
        } catch (error) {
          report(error);
        }
      }
      if (!stopped) timer = window.setTimeout(refresh, LIST_REFRESH_MS);
    }
    renderList();
    refresh();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
  }

  // ---- one call --------------------------------------------------------------------

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

  function percentile(sorted, p) {
    if (!sorted.length) return null;
    const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    return sorted[rank];
  }

  function niceCeiling(value) {
    const exponent = Math.pow(10, Math.floor(Math.log10(Math.max(value, 1))));
    for (const step of [1, 2, 2.5, 5, 10]) {
      if (step * exponent >= value) return step * exponent;
    }
    return 10 * exponent;
  }

  function latencyChart(turns) {
    const width = 640, height = 220;
    const left = 52, right = 12, top = 22, bottom = 34;
    const plotW = width - left - right, plotH = height - top - bottom;
    // At least 100 ms tall, so a few fast turns still read as fast, not as a full scale.
    const max = niceCeiling(Math.max(100, ...turns.map((t) => t.ms)) * 1.1);
    const chart = svg("svg", {
      id: "latency-chart", class: "chart", viewBox: `0 0 ${width} ${height}`,
      role: "img", "aria-label": `Turn latency for ${turns.length} turns`,
      preserveAspectRatio: "xMidYMid meet",
    });
    for (let i = 0; i <= 4; i++) {
      const value = (max * i) / 4;
      const y = top + plotH - (plotH * i) / 4;
      chart.append(svg("line", { class: "gridline", x1: left, x2: width - right, y1: y, y2: y }));
      chart.append(svg("text", { class: "axis", x: left - 6, y: y + 4, "text-anchor": "end" },
        `${Math.round(value)} ms`));
    }
    const slot = plotW / turns.length;
    const barW = Math.max(4, Math.min(56, slot * 0.62));
    turns.forEach((turn, i) => {
      const h = Math.max(2, (turn.ms / max) * plotH);
      const x = left + slot * i + (slot - barW) / 2;
      const y = top + plotH - h;
      const bar = svg("rect", {
        class: "bar" + (turn.ms >= 1000 ? " slow" : ""), x, y, width: barW, height: h, rx: 3,
        "data-ms": turn.ms,
      }, svg("title", null, `Turn ${i + 1} at ${formatOffset(turn.t_ms)}: ${turn.ms} ms`));
      chart.append(bar);
      chart.append(svg("text", { class: "value", x: x + barW / 2, y: y - 5, "text-anchor": "middle" },
        String(turn.ms)));
      chart.append(svg("text", { class: "axis", x: x + barW / 2, y: height - bottom + 16, "text-anchor": "middle" },
        String(i + 1)));
    });
    chart.append(svg("line", { class: "baseline", x1: left, x2: width - right, y1: top + plotH, y2: top + plotH }));
    chart.append(svg("text", { class: "axis", x: left + plotW / 2, y: height - 4, "text-anchor": "middle" }, "turn"));
    return chart;
  }

  function renderLatency(state) {
    const turns = [...state.events.values()]
      .filter((e) => e.kind === "turn.latency" && typeof (e.data || {}).ms === "number")
      .sort((a, b) => a.t_ms - b.t_ms)
      .map((e) => ({ ms: e.data.ms, t_ms: e.t_ms }));
    const box = $("latency");
    const steps = latencySteps(state.latency);
    if (!turns.length) {
      box.replaceChildren(...[el("p", { class: "muted" }, "No turn latency recorded yet."), steps].filter(Boolean));
      return;
    }
    const sorted = turns.map((t) => t.ms).sort((a, b) => a - b);
    const stats = el("p", { class: "stats" },
      `${turns.length} turn${turns.length === 1 ? "" : "s"} · p50 ${percentile(sorted, 50)} ms · ` +
      `p95 ${percentile(sorted, 95)} ms · max ${sorted[sorted.length - 1]} ms`);
    box.replaceChildren(...[latencyChart(turns), stats, steps].filter(Boolean));
  }

  // The call's other latency figures, as the API summarises them (`latency` of GET a call).
  function latencySteps(latency) {
    if (!latency || typeof latency !== "object") return null;
    const items = [];
    const ms = (label, value) => {
      if (typeof value === "number") items.push([label, `${Math.round(value)} ms`]);
    };
    ms("Answer → media stream", latency.answer_to_stream_ms);
    ms("Stream → first model audio", latency.stream_to_first_audio_ms);
    ms("Model session ready (pre-warm)", latency.model_ready_ms);
    for (const [label, key] of [
      ["Bridge time per caller frame", "bridge_caller_to_model_us"],
      ["Bridge time per model frame", "bridge_model_to_caller_us"],
    ]) {
      const p = latency[key];
      if (p && typeof p.p50 === "number") {
        items.push([label, `p50 ${p.p50} µs · p95 ${p.p95} µs · max ${p.max} µs (${p.count} sampled)`]);
      }
    }
    if (!items.length) return null;
    return el("dl", { class: "facts steps" },
      ...items.flatMap(([label, value]) => [el("dt", null, label), el("dd", null, value)]));
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

  function showCall(callId) {
    const state = {
      call: null, latency: null, lines: new Map(), events: new Map(), live: false,
    };
    let stopped = false;
    let source = null;
    let ticker = 0;
    let scheduled = false;
    const isCurrent = () => !stopped;

    function schedule() {
      if (scheduled) return;
      scheduled = true;
      window.requestAnimationFrame(() => {
        scheduled = false;
        if (!stopped) renderCall(state);
      });
    }

    function absorb(data) {
      state.call = data.call;
      state.latency = data.latency || null;
      for (const line of data.transcript || []) state.lines.set(line.seq, line);
      for (const event of data.events || []) state.events.set(event.seq, event);
    }

    async function load() {
      const data = await api(`/api/calls/${encodeURIComponent(callId)}`);
      if (stopped) return null;
      absorb(data);
      state.live = Boolean(data.active);
      schedule();
      return data;
    }

    function follow() {
      source = new EventSource(`/api/calls/${encodeURIComponent(callId)}/events`);
      const onEntry = (message) => {
        let entry;
        try {
          entry = JSON.parse(message.data);
        } catch (error) {
          return;
        }
        if (message.type === "transcript") {
          state.lines.set(entry.seq, entry);
        } else if (message.type === "call.status") {
          if (state.call && entry.data && entry.data.status) state.call.status = entry.data.status;
        } else if (typeof entry.seq === "number") {
          state.events.set(entry.seq, entry);
          if (message.type === "status" && state.call && entry.data) state.call.status = entry.data.status;
          if (message.type === "outcome" && state.call && entry.data) {
            state.call.outcome = { success: entry.data.success, summary: entry.data.summary, details: entry.data.details || {} };
          }
          if (message.type === "answered" && state.call && !state.call.answered_at) {
            state.call.answered_at = Date.now();
          }
        }
        schedule();
      };
      for (const kind of STREAM_KINDS) source.addEventListener(kind, onEntry);
      source.addEventListener("end", (message) => {
        let data = null;
        try {
          data = JSON.parse(message.data);
        } catch (error) {
          return;
        }
        // Two kinds of `end`: the journal's (the audio bridge closed: {seq, data}) and the
        // stream's last word, which carries the final record ({call}).
        if (!data || !data.call) {
          onEntry(message);
          return;
        }
        finish();
        state.call = data.call;
        schedule();
        settle();
      });
      source.onerror = () => {
        // A stream that ends or breaks: read the call again; follow again if still live.
        if (stopped || !source || source.readyState !== EventSource.CLOSED) return;
        finish();
        settle();
      };
    }

    function finish() {
      if (source) source.close();
      source = null;
      window.clearInterval(ticker);
      state.live = false;
    }

    function settle() {
      load()
        .then((data) => {
          if (!data) return;
          if (data.active && !source) {
            follow();
          } else {
            renderRecordings(callId, isCurrent, justEnded(data.call) ? 8 : 0);
          }
        })
        .catch(report);
    }

    ["call-title", "call-facts", "outcome", "latency", "timeline", "recordings"].forEach((id) => $(id).replaceChildren());
    $("call-error").hidden = true;
    $("call-status").textContent = "";
    $("call-live").hidden = true;
    $("hangup").hidden = true;
    $("hangup").onclick = async () => {
      if (!window.confirm("Hang up this call now?")) return;
      try {
        await api(`/api/calls/${encodeURIComponent(callId)}/hangup`, {
          method: "POST", headers: { "Content-Type": "application/json" }, body: "{}",
        });
      } catch (error) {
        report(error);
      }
    };

    load()
      .then((data) => {
        if (!data) return;
        if (data.active) {
          follow();
          ticker = window.setInterval(schedule, 1000); // the running duration
        } else {
          renderRecordings(callId, isCurrent, justEnded(data.call) ? 8 : 0);
        }
      })
      .catch((error) => {
        if (String(error.message).startsWith("404")) {
          $("call-title").textContent = "No such call";
        } else {
          report(error);
        }
      });

    return () => {
      stopped = true;
      finish();
      document.title = "Calls · voicecall-rt";
    };
  }

  // ---- configured models ------------------------------------------------------------

  // A banner for each configured model with an announced shutdown (warning; error once due).
  async function showModelNotices() {
    let status;
    try {
      status = await api("/api/models");
    } catch (error) {
      report(error);
      return;
    }
    const box = $("model-notices");
    const notices = (status && status.notices) || [];
    box.replaceChildren(...notices.map((notice) =>
      el("p", { class: "banner " + (notice.level === "error" ? "error" : "warning"),
        "data-model": notice.model, "data-level": notice.level },
        el("strong", null, notice.level === "error" ? "Model shut down: " : "Model shutting down: "),
        notice.message)));
    box.hidden = notices.length === 0;
  }

  // What overview.js (loaded after this file) draws with.
  window.voicecall = { el, svg, api, report, showNotice, formatUsd };

  // ---- pages -----------------------------------------------------------------------

  function startLogin() {
    const failed = new URLSearchParams(window.location.search).has("error");
    $("login-error").hidden = !failed;
    if (failed) window.history.replaceState(null, "", "/login");
  }

  function startApp() {
    for (const id of ["filter-direction", "filter-status", "filter-text"]) {
      $(id).addEventListener("input", renderList);
    }
    window.addEventListener("hashchange", route);
    route();
    showModelNotices();
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (document.body.dataset.page === "login") startLogin();
    else startApp();
  });
})();
