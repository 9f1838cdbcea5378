// voicecall-rt dashboard, the app page: which view the address shows (the calls list, a
// call, the overview), and the configured models' shutdown banners. Loaded last: the
// views come from the other scripts (window.voicecall).
"use strict";

(function () {
  const {
    el, $, api, report, showNotice, showList, renderList, showCall, showOverview,
  } = window.voicecall;

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
      leave = showOverview();
    } else {
      leave = showList();
    }
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

  document.addEventListener("DOMContentLoaded", () => {
    for (const id of ["filter-direction", "filter-status", "filter-text"]) {
      $(id).addEventListener("input", renderList);
    }
    window.addEventListener("hashchange", route);
    route();
    showModelNotices();
  });
})();
