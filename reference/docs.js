// The Companies API reference: Swagger UI over openapi.json, served beside this page (by the
// local API at /docs/, or from the static folder `make docs` writes). Everything it loads comes
// from this folder; nothing is fetched from elsewhere (no spec validator, no fonts, no CDN).
window.ui = SwaggerUIBundle({
  url: "openapi.json",
  dom_id: "#reference",
  deepLinking: true,
  validatorUrl: null,
  tryItOutEnabled: false,
  displayRequestDuration: true,
  displayOperationId: false,
  docExpansion: "list",
  defaultModelsExpandDepth: 0,
  showExtensions: false,
  showCommonExtensions: true,
  persistAuthorization: true,
});
