// Starts Swagger UI or ReDoc (both served by the app from npm packages) on the OpenAPI URL
// given in the page's data attributes. No inline script, no CDN, no web fonts.
(function () {
  "use strict";
  function start() {
    var el = document.getElementById("tz-docs");
    if (!el) { return; }
    var url = el.getAttribute("data-openapi-url");
    if (el.getAttribute("data-kind") === "swagger") {
      window.ui = SwaggerUIBundle({
        url: url, dom_id: "#tz-docs", deepLinking: true, validatorUrl: null,
        presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout"
      });
    } else {
      Redoc.init(url, { disableSearch: false, hideDownloadButton: false }, el);
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else { start(); }
})();
