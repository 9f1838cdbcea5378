// voicecall-rt dashboard, one call's page: read the call, follow it live over server-sent
// events while it runs, read it again when it ends, hang it up. Uses common.js and
// call_view.js (window.voicecall), loaded before it.
"use strict";

(function () {
  const { $, justEnded, api, report, renderCall, renderRecordings } = window.voicecall;

  // Named server-sent events the call page listens to (EventSource only delivers the
  // names it was asked for); anything else turns up when the call is re-read at its end.
  const STREAM_KINDS = [
    "transcript", "call.status", "status", "outcome", "tool", "tool.error", "dtmf",
    "barge_in", "voicemail", "amd", "turn.latency", "answered", "placed", "settled",
    "silence.nudge", "model.error", "model.failed", "hangup.failed",
    "model.fatal", "model.refused", "model.response_failed", "model.incomplete", "model.lost",
    "model.renewed", "model.renew_failed", "transcription.failed",
  ];

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

  window.voicecall.showCall = showCall;
})();
