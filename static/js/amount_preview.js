/* Live "will be saved as" under amount boxes: each .amount-reads[data-for][data-url] asks the server
   (which parses like the form does) what the box next to it will save, as the user types. Without
   JavaScript the form shows the same line after a submit that needs correcting. */
(function () {
  "use strict";
  document.querySelectorAll(".amount-reads[data-for][data-url]").forEach(function (out) {
    var input = document.getElementById(out.dataset.for);
    if (!input) { return; }
    var timer = null;
    var asked = 0;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var ticket = ++asked;
        fetch(out.dataset.url + "?value=" + encodeURIComponent(input.value), {credentials: "same-origin"})
          .then(function (response) { return response.ok ? response.json() : null; })
          .then(function (answer) {
            if (!answer || ticket !== asked) { return; }
            out.textContent = answer.error || answer.saved || "";
            out.classList.toggle("error", Boolean(answer.error));
          })
          .catch(function () { /* the server check on submit still applies */ });
      }, 250);
    });
  });
})();
