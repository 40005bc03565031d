// The versions page: diff any two versions of a layer (table + map), restore with a
// confirmation that shows the diff from the current version first (admins).
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const page = tz.data("page-data");
  const COLOURS = { added: "#12b76a", removed: "#d92d20", changed: "#f79009" };
  const CHANGE_ZH = { added: "新增 added", removed: "删除 removed", changed: "变更 changed" };
  let map = null;
  let layer = null;
  const byKey = new Map();

  function picked(name) {
    const el = document.querySelector(`input[name="${name}"]:checked`);
    return el ? Number(el.value) : null;
  }

  // sensible defaults: B = the active version, A = the one before it
  const ids = Array.from(document.querySelectorAll("#versions tbody tr[data-dataset]"))
    .filter((tr) => tr.dataset.status !== "failed")
    .map((tr) => Number(tr.dataset.dataset));
  if (ids.length >= 2) {
    const b = page.active.length ? page.active[0] : ids[0];
    const a = ids.find((x) => x < b) || ids.find((x) => x !== b);
    document.querySelector(`input[name="diff-b"][value="${b}"]`).checked = true;
    document.querySelector(`input[name="diff-a"][value="${a}"]`).checked = true;
  }

  function counts(dl, d) {
    dl.replaceChildren();
    for (const [k, v] of [["新增 added", d.added], ["删除 removed", d.removed], ["变更 changed", d.changed], ["未变 unchanged", d.unchanged]]) {
      const dd = tz.el("dd", tz.num(v, 0));
      dd.dataset.count = k.split(" ")[1];
      dl.append(tz.el("dt", k), dd);
    }
  }

  function fillTable(tbody, d, clickable) {
    tbody.replaceChildren();
    for (const c of d.changes) {
      const tr = document.createElement("tr");
      tr.dataset.key = c.key;
      tr.dataset.change = c.change;
      const attrs = Object.entries(c.attributes).map(([k, [o, n]]) => `${k}: ${o ?? "∅"} → ${n ?? "∅"}`).join("; ");
      const geom = c.change === "changed" && c.geometry_moved ? `移动 moved ≤ ${tz.num(c.moved_m, 3)} m` : "";
      [c.key, CHANGE_ZH[c.change], attrs, geom, tz.num(c.area_change_m2, 2)].forEach((v, i) => {
        const td = tz.el("td", v);
        if (i === 4) td.className = "num";
        tr.append(td);
      });
      if (clickable) {
        tr.classList.add("tz-clickable");
        tr.addEventListener("click", () => zoom(c.key));
      }
      tbody.append(tr);
    }
    if (d.truncated) {
      const tr = document.createElement("tr");
      const td = tz.el("td", "……只列出前 1000 项 / first 1000 listed");
      td.colSpan = 5;
      tr.append(td);
      tbody.append(tr);
    }
  }

  function draw(d) {
    if (!map) map = L.map("diff-map", { attributionControl: false }).setView([22.75, 113.93], 11);
    if (layer) layer.remove();
    byKey.clear();
    const fc = { type: "FeatureCollection", features: d.changes.filter((c) => c.geometry).map((c) => ({ type: "Feature", geometry: c.geometry, properties: { key: c.key, change: c.change } })) };
    layer = L.geoJSON(fc, {
      style: (f) => ({ color: COLOURS[f.properties.change], weight: 2, fillOpacity: 0.35 }),
      onEachFeature: (f, l) => {
        byKey.set(f.properties.key, l);
        l.bindTooltip(`${f.properties.key} ${CHANGE_ZH[f.properties.change]}`);
        l.on("click", () => select(f.properties.key));
      },
    }).addTo(map);
    map.invalidateSize();
    if (fc.features.length) map.fitBounds(layer.getBounds(), { padding: [20, 20], maxZoom: 18 });
  }

  function select(key) {
    document.querySelectorAll("#diff-table tbody tr").forEach((tr) => tr.classList.toggle("tz-selected", tr.dataset.key === key));
  }

  function zoom(key) {
    select(key);
    const l = byKey.get(key);
    if (l) map.fitBounds(l.getBounds(), { padding: [40, 40], maxZoom: 19 });
  }

  $("diff-button").addEventListener("click", async () => {
    const a = picked("diff-a");
    const b = picked("diff-b");
    if (!a || !b || a === b) return;
    const d = await tz.request(`/datasets/${a}/diff/${b}`);
    $("diff-card").classList.remove("tz-hidden");
    $("diff-title").textContent = `${d.layer}: ${a} → ${b}`;
    counts($("diff-counts"), d);
    fillTable(document.querySelector("#diff-table tbody"), d, true);
    draw(d);
  });

  const dialog = $("restore-dialog");
  let restoring = null;
  document.querySelectorAll("button.tz-restore").forEach((btn) =>
    btn.addEventListener("click", async () => {
      restoring = Number(btn.dataset.dataset);
      $("restore-id").textContent = restoring;
      $("restore-message").textContent = "";
      const from = page.active.length ? page.active[0] : restoring;
      const d = await tz.request(`/datasets/${from}/diff/${restoring}`);
      counts($("restore-counts"), d);
      fillTable(document.querySelector("#restore-table tbody"), d, false);
      dialog.showModal();
    })
  );
  $("restore-cancel").addEventListener("click", () => dialog.close());
  $("restore-confirm").addEventListener("click", async () => {
    try {
      await tz.request(`/datasets/${restoring}/restore`, { method: "POST" });
      window.location.reload();
    } catch (err) {
      $("restore-message").textContent = `${err.status}: ${err.message}`;
    }
  });
})();
