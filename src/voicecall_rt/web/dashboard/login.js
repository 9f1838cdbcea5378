// voicecall-rt dashboard, the sign-in page: says so when the token given was refused.
"use strict";

(function () {
  document.addEventListener("DOMContentLoaded", () => {
    const failed = new URLSearchParams(window.location.search).has("error");
    document.getElementById("login-error").hidden = !failed;
    if (failed) window.history.replaceState(null, "", "/login");
  });
})();
