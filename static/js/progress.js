/* Progress bars for background jobs: polls each .job-progress element's data-job-url and updates its
   <progress> and text; when the job ends, goes to the nearest data-done-url or reloads the page. */
(function () {
  "use strict";
  var INTERVAL_MS = 1500;

  function update(el, job) {
    var bar = el.querySelector("progress");
    var text = el.querySelector(".job-text");
    if (bar) {
      if (job.total) { bar.max = job.total; bar.value = job.done; } else { bar.removeAttribute("value"); }
    }
    if (text) {
      var count = job.total ? job.done + " / " + job.total : String(job.done);
      var percent = job.percent === null || job.percent === undefined ? "" : " (" + job.percent + "%)";
      text.textContent = count + percent + (job.message ? " " + job.message : "");
    }
  }

  function finished(el) {
    // The macro renders only the bar, so the page may put data-done-url on the bar or a parent.
    var holder = el.closest("[data-done-url]");
    var target = holder ? holder.getAttribute("data-done-url") : "";
    if (target) { window.location.assign(target); } else { window.location.reload(); }
  }

  function poll(el) {
    var url = el.getAttribute("data-job-url");
    if (!url) { return; }
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (job) {
        update(el, job);
        if (job.status === "done" || job.status === "failed") { finished(el); return; }
        window.setTimeout(function () { poll(el); }, INTERVAL_MS);
      })
      .catch(function () {
        // A dropped connection should not freeze the bar for good: back off and try again.
        window.setTimeout(function () { poll(el); }, INTERVAL_MS * 4);
      });
  }

  function start() {
    var bars = document.querySelectorAll(".job-progress[data-job-url]");
    for (var i = 0; i < bars.length; i++) { poll(bars[i]); }
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
