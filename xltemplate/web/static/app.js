// xltemplate portal: the few lines that make pages refresh themselves, file choosers speak the
// page's language, and destructive actions ask in a dialog. Every page works without them (a
// <noscript> meta refresh does the same, more coarsely; the browser's own file control shows; a
// destructive action's link leads to its confirmation page, which holds the same form).
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
          if (active && active !== box && box.contains(active)) {
            setTimeout(tick, every); // the user is in the box (typing, or moving by keyboard): later
            return;
          }
          var ticked = {};
          var boxes = box.querySelectorAll("input[type=checkbox]:checked");
          for (var i = 0; i < boxes.length; i++) { ticked[boxes[i].name + "=" + boxes[i].value] = true; }
          box.innerHTML = html;
          var again = box.querySelectorAll("input[type=checkbox]"); // the ticks survive the refresh
          for (var j = 0; j < again.length; j++) {
            if (ticked[again[j].name + "=" + again[j].value]) { again[j].checked = true; }
          }
          var bar = box.querySelector("[data-done]");
          if (bar && bar.getAttribute("data-done") === "1") { return; } // a finished job: stop
          setTimeout(tick, every);
        })
        .catch(function () { setTimeout(tick, every * 3); });
    }
    setTimeout(tick, every);
  }
  function pick(box) {
    var input = box.querySelector("input[type=file]");
    var label = box.querySelector("label");
    var name = box.querySelector(".file-name");
    if (!input || !label || !name) { return; }
    function show() {
      var files = input.files;
      name.textContent = !files || files.length === 0 ? box.getAttribute("data-none")
        : files.length === 1 ? files[0].name : box.getAttribute("data-many").replace("{n}", String(files.length));
    }
    input.addEventListener("change", show);
    box.classList.add("enhanced");
    label.hidden = false;
    name.hidden = false;
    show();
  }
  function confirmer(link) {
    var dialog = document.getElementById(link.getAttribute("data-confirm"));
    if (!dialog || typeof dialog.showModal !== "function") { return; } // then the link leads to the page
    var cancel = dialog.querySelector("[data-close]");
    link.addEventListener("click", function (event) {
      event.preventDefault();
      dialog.showModal();
      var first = dialog.querySelector("input:not([type=hidden])") || cancel; // never the action itself
      if (first) { first.focus(); }
    });
    if (cancel) {
      cancel.addEventListener("click", function (event) { event.preventDefault(); dialog.close(); });
    }
  }
  function copier(button) {
    button.addEventListener("click", function () {
      var source = document.getElementById(button.getAttribute("data-copy"));
      if (!source) { return; }
      var done = function () { button.textContent = button.getAttribute("data-copied"); };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(source.value || source.textContent).then(done, function () {
          source.select(); document.execCommand("copy"); done();
        });
      } else {
        source.select(); document.execCommand("copy"); done();
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var confirms = document.querySelectorAll("a[data-confirm]");
    for (var c = 0; c < confirms.length; c++) { confirmer(confirms[c]); }
    var copies = document.querySelectorAll("[data-copy]");
    for (var m = 0; m < copies.length; m++) { copier(copies[m]); }
    var boxes = document.querySelectorAll("[data-refresh]");
    for (var i = 0; i < boxes.length; i++) { refresh(boxes[i]); }
    var picks = document.querySelectorAll("[data-file-pick]");
    for (var k = 0; k < picks.length; k++) { pick(picks[k]); }
  });
})();
