/* Type-ahead for pickers (templates/macros.html `picker`): as one types in a picker's search box, the
   server's matches (GET data-pick-url?q=) appear as buttons; choosing one sets the hidden field and shows
   its name. Without JavaScript the "Find" button posts the form back and the server lists the matches. */
(function () {
  "use strict";
  document.querySelectorAll(".picker[data-pick-url]").forEach(function (box) {
    var hidden = box.querySelector('input[type="hidden"][name="' + box.dataset.field + '"]');
    var search = box.querySelector('input[type="search"]');
    var shown = box.querySelector(".picker-chosen");
    var message = box.querySelector(".picker-message");
    if (!hidden || !search) { return; }
    var list = document.createElement("ul");
    list.className = "pick-list";
    search.parentNode.insertBefore(list, search.nextSibling);
    var timer = null;
    var asked = 0;
    function show(answer) {
      list.textContent = "";
      message.textContent = answer.message || "";
      answer.items.forEach(function (item) {
        var li = document.createElement("li");
        var button = document.createElement("button");
        button.type = "button";
        button.className = "pick-option";
        button.textContent = item.label + (item.detail ? " · " + item.detail : "");
        button.addEventListener("click", function () {
          hidden.value = String(item.id);
          shown.textContent = button.textContent;
          list.textContent = "";
          message.textContent = "";
        });
        li.appendChild(button);
        list.appendChild(li);
      });
    }
    search.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); }
    });
    search.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var ticket = ++asked;
        if (!search.value.trim()) { list.textContent = ""; message.textContent = ""; return; }
        fetch(box.dataset.pickUrl + "?q=" + encodeURIComponent(search.value), {credentials: "same-origin"})
          .then(function (response) { return response.ok ? response.json() : null; })
          .then(function (answer) { if (answer && ticket === asked) { show(answer); } })
          .catch(function () { /* the Find button still works */ });
      }, 200);
    });
  });
})();
