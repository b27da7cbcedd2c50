// Refresh a listing's matches every minute so new listings show up without reloading the page.
(function () {
  var box = document.getElementById('listing-matches');
  if (!box || !window.fetch) return;
  setInterval(function () {
    if (document.hidden || box.querySelector('details[open] form.feedback-form')) return;
    fetch(box.dataset.refreshUrl, {credentials: 'same-origin', headers: {'X-Fragment': '1'}}).then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) return;
        var tmp = document.createElement('div'); tmp.innerHTML = html;
        var fresh = tmp.querySelector('#listing-matches');
        if (fresh) { box.replaceWith(fresh); box = fresh; }
      });
  }, 60000);
})();
