// voicecall-rt dashboard, the calls list: filtered in the page, re-read every few seconds
// while it is shown. Uses common.js (window.voicecall), loaded before it.
"use strict";

(function () {
  const {
    ACTIVE, el, $, callHref, formatDate, formatDuration, costTotal, durationOf, numberOf,
    statusBadge, showNotice, api, report,
  } = window.voicecall;

  const LIST_REFRESH_MS = 2000;

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

  Object.assign(window.voicecall, { showList, renderList });
})();
