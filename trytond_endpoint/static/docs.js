// Starts Swagger UI on the document named by the page.
// A file rather than an inline script, so a strict Content-Security-Policy
// (script-src 'self') does not block it.
window.addEventListener('load', function () {
  var element = document.getElementById('swagger-ui');
  window.ui = SwaggerUIBundle({
    url: element.dataset.specUrl,
    dom_id: '#swagger-ui',
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
    // The default validator badge would call an online service.
    validatorUrl: null,
  });
});
