// Follows a cancellation while it is being processed: reloads the status region every 2 s
// and stops once the page says it is settled. Without JavaScript a <noscript> refresh does it.
(function () {
  "use strict";
  var INTERVAL_MS = 2000;

  function region(doc) {
    return doc.getElementById("status-region");
  }

  function poll() {
    fetch(window.location.href, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.text();
      })
      .then(function (html) {
        var fresh = region(new DOMParser().parseFromString(html, "text/html"));
        var current = region(document);
        if (!fresh || !current) { return; }
        if (fresh.innerHTML !== current.innerHTML) {
          current.replaceWith(fresh);
        }
        if (fresh.getAttribute("data-refresh") === "yes") {
          window.setTimeout(poll, INTERVAL_MS);
        }
      })
      .catch(function () { window.setTimeout(poll, INTERVAL_MS * 2); });
  }

  var start = region(document);
  if (start && start.getAttribute("data-refresh") === "yes") {
    window.setTimeout(poll, INTERVAL_MS);
  }
})();
