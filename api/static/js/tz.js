// Shared helpers of the workbench pages: the session's CSRF token on every mutating request,
// JSON data blocks, and Chinese number formatting. No inline script anywhere (CSP).
"use strict";
(function () {
  const meta = document.querySelector('meta[name="csrf-token"]');
  const csrf = meta ? meta.getAttribute("content") : "";

  /** fetch() with the CSRF header and same-origin credentials; throws {status, body} on 4xx/5xx. */
  async function request(url, options) {
    const opts = Object.assign({ credentials: "same-origin" }, options || {});
    opts.headers = Object.assign({ "X-CSRF-Token": csrf, Accept: "application/json" }, opts.headers || {});
    const resp = await fetch(url, opts);
    const type = resp.headers.get("content-type") || "";
    const body = type.includes("json") ? await resp.json() : await resp.text();
    if (!resp.ok) {
      const err = new Error((body && body.message_zh) || resp.statusText);
      err.status = resp.status;
      err.body = body;
      throw err;
    }
    return body;
  }

  /** The parsed JSON of a <script type="application/json" id="..."> block. */
  function data(id) {
    const el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  /** An element with text content (never innerHTML with data). */
  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function num(x, digits) {
    if (x === null || x === undefined || Number.isNaN(x)) return "–";
    return Number(x).toLocaleString("zh-CN", {
      minimumFractionDigits: digits || 0,
      maximumFractionDigits: digits === undefined ? 2 : digits,
    });
  }

  window.tz = { csrf, request, data, el, num };
})();
