// The API docs page (/api/docs): Swagger UI on this app's own OpenAPI document, no online validator.
window.ui = SwaggerUIBundle({
  url: document.getElementById("swagger-ui").dataset.spec,
  dom_id: "#swagger-ui",
  validatorUrl: null,
  deepLinking: true,
});
