// Small behaviours every page may use, wired by data attributes (the CSP allows no inline script):
//   data-autosubmit on a select or checkbox submits its form when it changes;
//   data-print on a button prints the page;
//   data-needs-check="ID" on a button keeps it disabled until the checkbox #ID is ticked (without
//   JavaScript the button stays enabled and the server explains what is missing).
(function () {
  function syncNeedsCheck() {
    document.querySelectorAll('[data-needs-check]').forEach(function (button) {
      var box = document.getElementById(button.getAttribute('data-needs-check'));
      if (box) button.disabled = !box.checked;
    });
  }
  document.addEventListener('change', function (event) {
    var el = event.target;
    if (el && el.hasAttribute && el.hasAttribute('data-autosubmit') && el.form) el.form.submit();
    syncNeedsCheck();
  });
  document.addEventListener('click', function (event) {
    var el = event.target && event.target.closest ? event.target.closest('[data-print]') : null;
    if (el) window.print();
  });
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', syncNeedsCheck);
  else syncNeedsCheck();
})();
