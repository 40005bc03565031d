// The users page (admins): create, change role, deactivate, reset a password or a token.
"use strict";
(function () {
  const msg = document.getElementById("users-message");

  function say(text, ok) {
    msg.textContent = text;
    msg.className = ok ? "tz-ok" : "tz-error";
  }

  function failed(err) {
    const b = err.body || {};
    say(`${err.status}: ${b.message_zh || err.message} / ${b.message_en || ""}`, false);
  }

  const json = (body) => ({ method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });

  document.getElementById("new-user").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const body = { name: f.name.value.trim(), role: f.role.value };
    if (f.password.value) body.password = f.password.value;
    try {
      const out = await tz.request("/users", json(body));
      say(`已新建 ${out.name}（${out.role}）。API 令牌只显示这一次 / API token, shown once: ${out.token}`, true);
      setTimeout(() => window.location.reload(), 4000);
    } catch (err) {
      failed(err);
    }
  });

  document.querySelectorAll("#users tbody tr").forEach((tr) => {
    const name = tr.dataset.user;
    const base = `/users/${encodeURIComponent(name)}`;
    tr.querySelectorAll("button[data-action]").forEach((btn) =>
      btn.addEventListener("click", async () => {
        const action = btn.dataset.action;
        try {
          if (action === "role") {
            const role = tr.querySelector(".tz-role-select").value;
            await tz.request(base, Object.assign(json({ role }), { method: "PATCH" }));
            say(`${name}：角色已改为 role is now ${role}`, true);
          } else if (action === "deactivate" || action === "activate") {
            await tz.request(base, Object.assign(json({ active: action === "activate" }), { method: "PATCH" }));
            window.location.reload();
          } else if (action === "password") {
            const pw = tr.querySelector(".tz-new-password").value;
            await tz.request(`${base}/password`, json({ password: pw }));
            say(`${name}：密码已重置，其登录会话已结束 / password reset; their sessions ended`, true);
          } else if (action === "token") {
            const out = await tz.request(`${base}/token`, { method: "POST" });
            say(`${name} 的新 API 令牌（只显示这一次）/ new API token, shown once: ${out.token}`, true);
          }
        } catch (err) {
          failed(err);
        }
      })
    );
  });
})();
