/* A "select all" checkbox: <input type="checkbox" data-select-all="NAME"> ticks or clears every
   checkbox named NAME on the page. Without JavaScript the boxes are ticked one by one. */
(function () {
  "use strict";
  document.querySelectorAll("input[data-select-all]").forEach(function (all) {
    var boxes = function () {
      return document.querySelectorAll('input[type=checkbox][name="' + all.dataset.selectAll + '"]');
    };
    all.hidden = false;
    all.addEventListener("change", function () {
      boxes().forEach(function (box) { box.checked = all.checked; });
    });
  });
})();
