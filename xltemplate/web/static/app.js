// xltemplate portal: the few lines that make pages refresh themselves. Every page works without
// them (a <noscript> meta refresh does the same, more coarsely).
(function () {
  "use strict";
  function refresh(box) {
    var every = parseInt(box.getAttribute("data-refresh"), 10);
    var url = box.getAttribute("data-partial");
    if (!every || !url) { return; }
    url += (url.indexOf("?") >= 0 ? "&" : "?") + "partial=1";
    function tick() {
      fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html === null) { return; }
          var active = document.activeElement;
          if (active && box.contains(active) && (active.tagName === "INPUT" || active.tagName === "SELECT")) {
            setTimeout(tick, every); // the user is typing into the filters: later
            return;
          }
          box.innerHTML = html;
          var bar = box.querySelector("[data-done]");
          if (bar && bar.getAttribute("data-done") === "1") { return; } // a finished job: stop
          setTimeout(tick, every);
        })
        .catch(function () { setTimeout(tick, every * 3); });
    }
    setTimeout(tick, every);
  }
  document.addEventListener("DOMContentLoaded", function () {
    var boxes = document.querySelectorAll("[data-refresh]");
    for (var i = 0; i < boxes.length; i++) { refresh(boxes[i]); }
  });
})();
