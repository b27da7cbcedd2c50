// The interactive API reference: Swagger UI (vendored) reading the site's own OpenAPI document.
(function () {
  var box = document.getElementById('api-reference');
  if (!box || !window.SwaggerUIBundle) return;
  window.SwaggerUIBundle({url: box.getAttribute('data-spec-url'), domNode: box, deepLinking: true,
                          tryItOutEnabled: false});
})();
