/* CivicStat live updates: when measures shown on this page get new values, fetch the page
   again and swap in its live regions. No library, no CDN; the server says what changed
   through server-sent events (/events). */
(function () {
  "use strict";
  var main = document.getElementById("main");
  if (!main || !main.hasAttribute("data-live") || !window.EventSource) return;
  var watched = main.getAttribute("data-live").split(/\s+/).filter(Boolean);
  var status = document.getElementById("live-status");
  var busy = false, again = false;

  function say(text) { if (status) status.textContent = text; }

  function swap(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html");
    var focused = document.activeElement;
    var focusKey = focused && (focused.id || focused.getAttribute("href"));
    document.querySelectorAll("[data-live-region]").forEach(function (old) {
      var next = fresh.getElementById(old.id);
      if (next) old.replaceWith(document.importNode(next, true));
    });
    if (focusKey && !document.body.contains(focused)) {  // keep the keyboard user's place
      var place = document.getElementById(focusKey) ||
        document.querySelector('[href="' + focusKey.replace(/"/g, '\\"') + '"]');
      if (place) place.focus();
    }
  }

  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(window.location.href, { credentials: "same-origin", headers: { "X-CivicStat-Live": "1" } })
      .then(function (response) {
        if (!response.ok || response.redirected) throw new Error("status " + response.status);
        return response.text();
      })
      .then(function (html) {
        swap(html);
        main.setAttribute("data-updated", String(Date.now()));
        say("Updated with new data at " + new Date().toLocaleTimeString() + ".");
      })
      .catch(function () { say("New data has landed: reload the page to see it."); })
      .then(function () {
        busy = false;
        if (again) { again = false; refresh(); }
      });
  }

  var events = new EventSource("/events");
  events.addEventListener("observations", function (event) {
    var changed = JSON.parse(event.data).measures || [];
    var mine = !watched.length || changed.some(function (m) { return watched.indexOf(m) >= 0; });
    if (mine) refresh();
  });
  events.addEventListener("signed-out", function () {
    events.close();
    say("Live updates stopped: your session has ended.");
  });
})();
