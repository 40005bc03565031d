// Forms of the procedure, budget and calendar pages: they post to the JSON API with the
// session's CSRF token (tz.request) and show the API's bilingual message. No inline script.
"use strict";
(function () {
  const out = document.getElementById("form-result");
  const page = tz.data("procedure-data") || {};

  function show(ok, text, problems) {
    if (!out) return;
    out.textContent = "";
    out.className = "tz-result " + (ok ? "tz-ok" : "tz-error");
    out.appendChild(tz.el("p", text));
    if (problems && problems.length) {
      const ul = tz.el("ul");
      problems.forEach(function (p) {
        ul.appendChild(tz.el("li", (p.message_zh || "") + " / " + (p.message_en || "")));
      });
      out.appendChild(ul);
    }
  }

  function failure(err) {
    const b = err.body || {};
    let text = (b.message_zh || err.message) + (b.message_en ? " / " + b.message_en : "");
    if (Array.isArray(b.detail)) {
      text = b.detail.map(function (d) { return (d.loc || []).join(".") + ": " + d.msg; }).join("; ");
    }
    show(false, text, b.problems);
  }

  function lines(text) {
    return (text || "").split(/\r?\n/).map(function (l) { return l.trim(); }).filter(Boolean);
  }

  const actions = {
    record: function (f) {
      return tz.request("/procedure/projects/" + encodeURIComponent(page.project_code) + "/events", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          step: f.step.value, occurred_on: f.occurred_on.value, note: f.note.value || null,
        }),
      });
    },
    correct: function (f) {
      return tz.request("/procedure/events/" + encodeURIComponent(f.event_id.value) + "/correction", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ occurred_on: f.occurred_on.value || null, reason: f.reason.value }),
      });
    },
    items: function (f) {
      const body = new FormData();
      body.append("file", f.file.files[0]);
      if (f.actual_payments.value) body.append("actual_payments", f.actual_payments.value);
      return tz.request("/budget/projects/" + encodeURIComponent(page.project_code) + "/items.xlsx", {
        method: "POST", body: body,
      });
    },
    notice: function (f) {
      const holidays = lines(f.holidays.value).map(function (l) {
        const p = l.split(/\s+/);
        return { start: p[0], end: p[1], name: p.slice(2).join(" ") };
      });
      const workdays = lines(f.workdays.value).map(function (l) {
        const p = l.split(/\s+/);
        return { day: p[0], name: p.slice(1).join(" ") };
      });
      return tz.request("/calendar/years/" + encodeURIComponent(f.year.value), {
        method: "PUT",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          year: Number(f.year.value), reference: f.reference.value, holidays: holidays, workdays: workdays,
        }),
      });
    },
  };

  document.querySelectorAll("form.tz-form[data-action]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      const act = actions[form.dataset.action];
      if (!act) return;
      act(form).then(function () {
        show(true, "已保存 Saved");
        window.location.reload();
      }, failure);
    });
  });
})();
