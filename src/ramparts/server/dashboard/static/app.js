// Ramparts dashboard: the theme button and the live sessions table (server-sent events; the server
// renders and escapes the rows).
(function () {
  "use strict";
  var root = document.documentElement;
  var saved = null;
  try { saved = localStorage.getItem("ramparts-theme"); } catch (e) { saved = null; }
  if (saved) { root.setAttribute("data-theme", saved); }
  function dark() {
    var t = root.getAttribute("data-theme");
    return t ? t === "dark" : window.matchMedia("(prefers-color-scheme: dark)").matches;
  }
  document.addEventListener("DOMContentLoaded", function () {
    var button = document.getElementById("theme");
    if (button) {
      var label = function () {
        button.setAttribute("aria-pressed", dark() ? "true" : "false");
      };
      label();
      button.addEventListener("click", function () {
        var next = dark() ? "light" : "dark";
        root.setAttribute("data-theme", next);
        try { localStorage.setItem("ramparts-theme", next); } catch (e) { /* private mode */ }
        label();
      });
    }
    var body = document.getElementById("sessions-body");
    if (body && window.EventSource) {
      var source = new EventSource(body.getAttribute("data-events"));
      source.addEventListener("sessions", function (event) {
        var data = JSON.parse(event.data);
        body.innerHTML = data.html;
        var caption = document.getElementById("sessions-caption");
        if (caption) { caption.textContent = "Sessions (" + data.count + ")"; }
      });
    }
  });
})();
