// voicecall-rt dashboard, what every other script uses: building DOM and SVG nodes,
// formatting, and the local API (window.voicecall). Plain JavaScript, no build step,
// nothing from the internet; loaded first.
//
// Everything a call says is put on the page as text (textContent, text nodes, attribute
// values via setAttribute): never as HTML. The session is an HttpOnly cookie that these
// scripts cannot read; the server checks it on every /api/ request.
"use strict";

(function () {
  const ACTIVE = new Set(["initiating", "queued", "ringing", "in-progress"]);
  const RECORDING_WAIT_MS = 10000;
  const SVG_NS = "http://www.w3.org/2000/svg";

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

  window.voicecall = {
    ACTIVE, el, svg, $, callHref, formatDate, formatDuration, formatOffset, formatUsd,
    costTotal, durationOf, justEnded, numberOf, statusBadge, showNotice, api, report,
  };
})();
