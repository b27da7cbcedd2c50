// Small behaviours every page may use, wired by data attributes (the CSP allows no inline script):
//   data-autosubmit on a select or checkbox submits its form when it changes;
//   data-print on a button prints the page.
(function () {
  document.addEventListener('change', function (event) {
    var el = event.target;
    if (el && el.hasAttribute && el.hasAttribute('data-autosubmit') && el.form) el.form.submit();
  });
  document.addEventListener('click', function (event) {
    var el = event.target && event.target.closest ? event.target.closest('[data-print]') : null;
    if (el) window.print();
  });
})();
