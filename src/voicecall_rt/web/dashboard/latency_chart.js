// voicecall-rt dashboard, a call's turn latency: a bar per turn drawn as inline SVG, its
// percentiles, and the call's other latency figures. Uses common.js (window.voicecall).
"use strict";

(function () {
  const { el, svg, $, formatOffset } = window.voicecall;

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


  window.voicecall.renderLatency = renderLatency;
})();
