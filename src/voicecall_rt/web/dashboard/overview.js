// voicecall-rt dashboard, the overview: how calls go, day by day (GET /api/overview),
// drawn as inline SVG by this script. Plain JavaScript, no build step, nothing from the
// internet; every figure is also written as text (labels, legend, table), never by colour
// alone. Uses common.js's helpers (window.voicecall), loaded before it.
"use strict";

(function () {
  const { el, svg, api, report, showNotice, formatUsd } = window.voicecall;
  const $ = (id) => document.getElementById(id);
  const W = 560;
  const H = 220;
  const PAD = { left: 44, right: 10, top: 18, bottom: 28 };

  function shortDate(iso) {
    return iso.slice(5); // MM-DD
  }

  function percent(rate) {
    return typeof rate === "number" ? `${Math.round(rate * 1000) / 10}%` : "—";
  }

  function usd(value) {
    return formatUsd(value) || "—";
  }

  function frame(id, label) {
    return svg("svg", {
      id, class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label,
    });
  }

  // x position and width of day i's slot.
  function slot(i, count) {
    const plotW = W - PAD.left - PAD.right;
    const step = plotW / Math.max(1, count);
    return { x: PAD.left + i * step, step, bar: Math.max(2, step * 0.7) };
  }

  function axes(chart, days, top, format) {
    const plotH = H - PAD.top - PAD.bottom;
    chart.append(svg("line", { class: "baseline", x1: PAD.left, x2: W - PAD.right, y1: H - PAD.bottom, y2: H - PAD.bottom }));
    chart.append(svg("text", { class: "axis", x: PAD.left - 6, y: PAD.top + 4, "text-anchor": "end" }, format(top)));
    chart.append(svg("text", { class: "axis", x: PAD.left - 6, y: PAD.top + plotH, "text-anchor": "end" }, format(0)));
    // Every day's date when they fit, else about eight of them.
    const every = Math.max(1, Math.ceil(days.length / 8));
    days.forEach((day, i) => {
      if (i % every) return;
      const { x, step } = slot(i, days.length);
      chart.append(svg("text", { class: "axis", x: x + step / 2, y: H - 8, "text-anchor": "middle" }, shortDate(day.date)));
    });
  }

  // One bar per day, its value written above it.
  function barChart(id, label, days, valueOf, format) {
    const chart = frame(id, label);
    const values = days.map(valueOf);
    const top = Math.max(...values, 0) || 1;
    const plotH = H - PAD.top - PAD.bottom;
    axes(chart, days, top, format);
    days.forEach((day, i) => {
      const value = values[i];
      const { x, step, bar } = slot(i, days.length);
      const h = (value / top) * plotH;
      const rect = svg("rect", {
        class: "bar", x: x + (step - bar) / 2, y: H - PAD.bottom - h, width: bar, height: h,
        "data-date": day.date, "data-value": value,
      }, svg("title", null, `${day.date}: ${format(value)}`));
      chart.append(rect);
      if (value && days.length <= 31) {
        chart.append(svg("text", { class: "value", x: x + step / 2, y: H - PAD.bottom - h - 4, "text-anchor": "middle" }, format(value)));
      }
    });
    return chart;
  }

  // Each day's calls stacked by ending; a legend and a table say the same in words.
  function endingsChart(data) {
    const days = data.days;
    const chart = frame("overview-endings-chart", "Calls per day by how they ended");
    const top = Math.max(...days.map((d) => d.calls), 0) || 1;
    const plotH = H - PAD.top - PAD.bottom;
    axes(chart, days, top, String);
    days.forEach((day, i) => {
      const { x, step, bar } = slot(i, days.length);
      let y = H - PAD.bottom;
      for (const { key, label } of data.endings) {
        const n = day.endings[key] || 0;
        if (!n) continue;
        const h = (n / top) * plotH;
        y -= h;
        chart.append(svg("rect", {
          class: `segment ending-${key}`, x: x + (step - bar) / 2, y, width: bar, height: h,
          "data-date": day.date, "data-ending": key, "data-count": n,
        }, svg("title", null, `${day.date}: ${label} ${n}`)));
      }
    });
    const used = data.endings.filter((e) => data.totals.endings[e.key]);
    const legend = el("ul", { class: "legend" }, ...used.map((e) =>
      el("li", null, el("span", { class: `swatch ending-${e.key}`, "aria-hidden": "true" }), e.label)));
    const total = data.totals.calls;
    const table = el("table", { id: "endings-table", class: "details" },
      el("thead", null, el("tr", null, el("th", null, "Ending"), el("th", { class: "num" }, "Calls"), el("th", { class: "num" }, "Share"))),
      el("tbody", null, ...used.map((e) => {
        const n = data.totals.endings[e.key];
        return el("tr", { "data-ending": e.key },
          el("td", null, e.label),
          el("td", { class: "num" }, String(n)),
          el("td", { class: "num" }, percent(n / total)));
      })));
    return [chart, legend, table];
  }

  // p50 and p95 of each day's turns as two lines (solid and dashed), a point per day
  // that had turns; days without any are skipped.
  function latencyChart(days) {
    const chart = frame("overview-latency-chart", "Turn latency per day, p50 and p95");
    const measured = days.map((d, i) => ({ d, i })).filter(({ d }) => d.turn_ms);
    const top = Math.max(...measured.map(({ d }) => d.turn_ms.p95), 0) || 1;
    const plotH = H - PAD.top - PAD.bottom;
    axes(chart, days, top, (v) => `${Math.round(v)}`);
    for (const key of ["p50", "p95"]) {
      const points = measured.map(({ d, i }) => {
        const { x, step } = slot(i, days.length);
        return [x + step / 2, H - PAD.bottom - (d.turn_ms[key] / top) * plotH, d];
      });
      chart.append(svg("polyline", { class: `line ${key}`, points: points.map(([x, y]) => `${x},${y}`).join(" ") }));
      for (const [x, y, d] of points) {
        chart.append(svg("circle", { class: `point ${key}`, cx: x, cy: y, r: 3, "data-date": d.date, "data-ms": d.turn_ms[key] },
          svg("title", null, `${d.date}: ${key} ${Math.round(d.turn_ms[key])} ms (${d.turn_ms.count} turns)`)));
      }
    }
    const legend = el("ul", { class: "legend" },
      el("li", null, el("span", { class: "swatch line-p50", "aria-hidden": "true" }), "p50 (solid)"),
      el("li", null, el("span", { class: "swatch line-p95", "aria-hidden": "true" }), "p95 (dashed)"));
    if (!measured.length) return [el("p", { class: "muted" }, "No turn latency recorded in this range.")];
    return [chart, legend];
  }

  function tile(key, label, value, note) {
    return el("div", { class: "tile card", "data-figure": key },
      el("div", { class: "muted small" }, label),
      el("div", { class: "figure" }, value),
      note ? el("div", { class: "muted small" }, note) : null);
  }

  function renderFigures(data) {
    const t = data.totals;
    const turns = t.turn_ms;
    $("overview-figures").replaceChildren(
      tile("calls", "Calls", String(t.calls)),
      tile("answered", "Answered", String(t.answered)),
      tile("success", "Success rate", percent(t.success_rate),
        `${t.succeeded} of ${t.outcomes} calls that reported an outcome`),
      tile("cost", "Cost", usd(t.cost_usd),
        t.unpriced_calls ? `${t.unpriced_calls} call(s) with an unpriced model not counted in full` : null),
      tile("latency", "Turn latency", turns ? `p50 ${Math.round(turns.p50)} ms` : "—",
        turns ? `p95 ${Math.round(turns.p95)} ms over ${turns.count} turns` : null),
    );
  }

  function render(data) {
    const empty = data.totals.calls === 0;
    $("overview-empty").hidden = !empty;
    renderFigures(data);
    $("overview-calls").replaceChildren(
      barChart("overview-calls-chart", "Calls per day", data.days, (d) => d.calls, String));
    $("overview-cost").replaceChildren(
      barChart("overview-cost-chart", "Cost per day in USD", data.days, (d) => d.cost_usd, usd));
    $("overview-endings").replaceChildren(...(empty
      ? [el("p", { class: "muted" }, "No calls in this range.")]
      : endingsChart(data)));
    $("overview-latency").replaceChildren(...latencyChart(data.days));
  }

  function filters() {
    const params = new URLSearchParams();
    for (const [name, id] of [["from", "overview-from"], ["to", "overview-to"],
      ["direction", "overview-direction"], ["tz", "overview-tz"]]) {
      const value = $(id).value;
      if (value) params.set(name, value);
    }
    return params;
  }

  function zones() {
    const select = $("overview-tz");
    const local = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (local && local !== "UTC" && ![...select.options].some((o) => o.value === local)) {
      select.append(el("option", { value: local }, `${local} (this browser)`));
    }
  }

  let listening = false;
  let current = 0;

  async function load() {
    const mine = ++current;
    const params = filters();
    $("overview-csv").setAttribute("href", "/api/calls.csv?" + params.toString());
    try {
      const data = await api("/api/overview?" + params.toString());
      if (mine !== current) return;
      $("overview-error").hidden = true;
      $("overview-from").value = data.from;
      $("overview-to").value = data.to;
      // The CSV covers exactly the days shown (the server may have chosen them).
      const shown = filters();
      $("overview-csv").setAttribute("href", "/api/calls.csv?" + shown.toString());
      render(data);
      showNotice("");
    } catch (error) {
      if (mine !== current) return;
      if (/^400:/.test(error.message)) {
        $("overview-error").textContent = error.message.replace(/^400: /, "");
        $("overview-error").hidden = false;
      } else {
        report(error);
      }
    }
  }

  window.voicecall.showOverview = function () {
    zones();
    if (!listening) {
      listening = true;
      for (const id of ["overview-from", "overview-to", "overview-direction", "overview-tz"]) {
        $(id).addEventListener("change", () => load());
      }
      $("overview-filters").addEventListener("submit", (event) => event.preventDefault());
    }
    document.title = "Overview · voicecall-rt";
    load();
    return () => {
      current++;
      document.title = "Calls · voicecall-rt";
    };
  };
})();
