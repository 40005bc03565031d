// The upload page: dry run first (bytes progress, then the server's phases over SSE), the
// report laid out (summary, filterable problems, problem rows on a map, the first 20 rows),
// then "publish" ingests the file the server kept from the dry run (no second transfer).
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const form = $("upload-form");
  const PHASES = ["upload", "read", "check", "copy", "index", "publish"];
  const KIND_COLOURS = { refused: "#d92d20", overlap: "#f79009", repaired: "#1570ef" };
  const SEVERITY_ZH = { error: "错误", warning: "警告", info: "信息" };
  let current = null; // {report, options}
  let map = null;
  let mapLayer = null;
  const featuresByRow = new Map();

  function randomId() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function setPhase(name, state) {
    const li = document.querySelector(`#phases li[data-phase="${name}"]`);
    if (!li) return;
    li.classList.remove("active", "done");
    if (state) li.classList.add(state);
  }

  function resetPhases() {
    PHASES.forEach((p) => setPhase(p, null));
    $("bytes").value = 0;
    $("progress-text").textContent = "";
  }

  function phaseReached(name) {
    const idx = PHASES.indexOf(name);
    PHASES.forEach((p, i) => {
      if (i < idx) setPhase(p, "done");
    });
    setPhase(name, "active");
  }

  function watchPhases(pid) {
    const es = new EventSource(`/uploads/progress/${pid}`);
    es.addEventListener("phase", (ev) => {
      const phase = JSON.parse(ev.data).phase;
      phaseReached(phase);
      $("progress-text").textContent = `服务器：${phase}`;
    });
    es.addEventListener("done", () => es.close());
    es.onerror = () => es.close();
    return es;
  }

  /** POST a FormData with XHR (upload progress); resolves {status, body}. */
  function post(url, data) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.setRequestHeader("X-CSRF-Token", tz.csrf);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.onprogress = (ev) => {
        if (ev.lengthComputable) $("bytes").value = Math.round((100 * ev.loaded) / ev.total);
      };
      xhr.upload.onload = () => {
        $("bytes").value = 100;
        setPhase("upload", "done");
      };
      xhr.onload = () => {
        let body = null;
        try {
          body = JSON.parse(xhr.responseText);
        } catch (e) {
          body = { message_zh: xhr.responseText, message_en: "" };
        }
        resolve({ status: xhr.status, body });
      };
      xhr.onerror = () => reject(new Error("网络错误 network error"));
      xhr.send(data);
    });
  }

  function orderedFiles(files) {
    // the .shp (or the single file) goes as "file", the other shapefile parts as "parts"
    const list = Array.from(files);
    list.sort((a, b) => (a.name.toLowerCase().endsWith(".shp") ? -1 : 0) - (b.name.toLowerCase().endsWith(".shp") ? -1 : 0));
    return list;
  }

  async function runUpload(url, data) {
    const pid = randomId();
    data.append("progress_id", pid);
    $("progress-card").classList.remove("tz-hidden");
    resetPhases();
    setPhase("upload", "active");
    const es = watchPhases(pid);
    try {
      return await post(url, data);
    } finally {
      // The response is the last word: show() marks the phases it reached. A phase event
      // still on its way over the separate SSE connection would set one of them back to
      // "active" (the list then ended at "read" after a finished dry run).
      es.close();
    }
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const files = orderedFiles($("file").files);
    if (!files.length) return;
    const data = new FormData();
    data.append("file", files[0], files[0].name);
    files.slice(1).forEach((f) => data.append("parts", f, f.name));
    for (const name of ["layer", "mode", "crs", "encoding", "source_layer"]) {
      const v = $(name).value.trim();
      if (v) data.append(name, v);
    }
    if ($("strict").checked) data.append("strict", "true");
    if ($("mapping").files.length) data.append("mapping", $("mapping").files[0]);
    data.append("dry_run", "true");
    data.append("keep", "true");
    await uploadFrom("check-button", "/uploads", data);
  });

  $("publish-button").addEventListener("click", async () => {
    if (!current || !current.report.sha256) return;
    const url = `/uploads/staged/${current.report.sha256}/publish`;
    await uploadFrom("publish-button", url, new FormData(), () => setPhase("upload", "done"));
  });

  // One upload request made from a button: the button is disabled while it runs, then the
  // report is shown (after onDone, if given) or the error.
  async function uploadFrom(buttonId, url, data, onDone) {
    $(buttonId).disabled = true;
    try {
      const { status, body } = await runUpload(url, data);
      if (onDone) onDone();
      show(status, body);
    } catch (err) {
      showError(err.message);
    } finally {
      $(buttonId).disabled = false;
    }
  }

  $("discard-button").addEventListener("click", async () => {
    if (!current || !current.report.sha256) return;
    await tz.request(`/uploads/staged/${current.report.sha256}`, { method: "DELETE" });
    $("publish-button").classList.add("tz-hidden");
    $("discard-button").classList.add("tz-hidden");
    $("staged-note").textContent = "已放弃，服务器上的文件已删除 / discarded; the kept file was deleted";
  });

  function showError(message) {
    $("report-card").classList.remove("tz-hidden");
    $("report-message").textContent = message;
    $("report-message").className = "tz-error";
  }

  const STATUS_ZH = {
    dry_run: "试运行通过，尚未写入 dry run passed; nothing written yet",
    published: "已入库 published",
    unchanged: "未变化：同一文件已是当前版本 unchanged",
    refused: "已拒绝：未写入任何数据 refused; nothing was written",
  };

  function show(status, body) {
    const report = body && body.report ? body.report : body;
    $("report-card").classList.remove("tz-hidden");
    if (!report || !report.status) {
      showError(`${status}: ${(body && body.message_zh) || ""} / ${(body && body.message_en) || ""}`);
      return;
    }
    current = { report };
    if (report.status === "published" || report.status === "unchanged") PHASES.forEach((p) => setPhase(p, "done"));
    if (report.status === "dry_run") ["upload", "read", "check"].forEach((p) => setPhase(p, "done"));
    const badge = $("report-status");
    badge.textContent = report.status;
    badge.className = `tz-badge ${report.status}`;
    const msg = $("report-message");
    msg.className = report.status === "refused" ? "tz-error" : "tz-ok";
    let text = STATUS_ZH[report.status] || report.status;
    if (report.status === "refused" && body.message_zh) text = `${body.message_zh} / ${body.message_en}`;
    if (report.status === "published") text += `：数据集 dataset ${report.dataset_id}`;
    msg.textContent = text;
    summary(report);
    const staged = report.status === "dry_run" && body.staged_until;
    $("publish-button").classList.toggle("tz-hidden", !staged);
    $("discard-button").classList.toggle("tz-hidden", !staged);
    $("staged-note").textContent = staged
      ? `文件已在服务器暂存至 ${new Date(body.staged_until).toLocaleString("zh-CN")}，发布时不再重新上传 / kept on the server until then; publishing sends nothing again`
      : "";
    if (report.status === "published") {
      const a = tz.el("a", `查看版本 see the versions of ${report.layer}`);
      a.href = `/workbench/versions?layer=${encodeURIComponent(report.layer)}`;
      a.id = "versions-link";
      $("staged-note").replaceChildren(a);
    }
    problems(report);
    drawMap(report.problem_map);
    preview(report.preview || []);
    $("report-card").scrollIntoView({ block: "start" });
  }

  function summary(r) {
    const c = r.counts || {};
    const toWrite = r.status === "published" ? c.written : c.read - c.refused;
    const items = [
      ["文件 file", r.source_file],
      ["SHA-256", r.sha256],
      ["图层 layer", r.layer],
      ["编码 encoding", r.encoding],
      ["编码判定 how", r.encoding_method],
      ["坐标系 CRS", r.source_crs],
      ["坐标系判定 how", r.crs_method],
      ["读取 read", tz.num(c.read, 0)],
      [r.status === "published" ? "已写入 written" : "将写入 to be written", tz.num(r.status === "refused" ? 0 : toWrite, 0)],
      ["修复 repaired", tz.num(c.repaired, 0)],
      ["拒绝 refused", tz.num(c.refused, 0)],
      ["总面积 total area", `${tz.num(r.total_area_m2, 2)} m²`],
    ];
    const dl = $("report-summary");
    dl.replaceChildren();
    for (const [k, v] of items) {
      const dt = tz.el("dt", k);
      const dd = tz.el("dd", v === null || v === undefined ? "–" : v);
      dd.dataset.key = k.split(" ")[1] || k;
      dl.append(dt, dd);
    }
  }

  function areaChange(p) {
    if (p.area_before_m2 !== null && p.area_after_m2 !== null && p.area_before_m2 !== undefined) {
      return p.area_after_m2 - p.area_before_m2;
    }
    return p.area_m2 === undefined ? null : p.area_m2;
  }

  function problems(report) {
    const tbody = document.querySelector("#problems tbody");
    tbody.replaceChildren();
    const codes = new Set();
    for (const p of report.problems || []) {
      codes.add(p.code);
      const tr = document.createElement("tr");
      tr.className = `sev-${p.severity}`;
      tr.dataset.severity = p.severity;
      tr.dataset.code = p.code;
      if (p.row) {
        tr.dataset.row = p.row;
        tr.classList.add("tz-clickable");
      }
      const change = areaChange(p);
      [p.row, p.field, p.code, SEVERITY_ZH[p.severity] || p.severity, p.message_zh, p.message_en, change === null ? "" : tz.num(change, 2)].forEach((v, i) => {
        const td = tz.el("td", v === null || v === undefined ? "" : v);
        if (i === 0 || i === 6) td.className = "num";
        tr.append(td);
      });
      tr.addEventListener("click", () => zoomTo(p.row));
      tbody.append(tr);
    }
    const omitted = Object.entries(report.omitted_problems || {});
    for (const [code, n] of omitted) {
      const tr = document.createElement("tr");
      tr.dataset.code = code;
      tr.append(tz.el("td", ""), tz.el("td", ""), tz.el("td", code), tz.el("td", "…"), tz.el("td", `另有 ${n} 行未列出`), tz.el("td", `${n} more rows not listed`), tz.el("td", ""));
      tbody.append(tr);
    }
    const sel = $("filter-code");
    sel.replaceChildren(tz.el("option", "全部 all"));
    sel.firstChild.value = "";
    [...codes].sort().forEach((c) => {
      const o = tz.el("option", c);
      o.value = c;
      sel.append(o);
    });
    applyFilters();
  }

  function applyFilters() {
    const sev = $("filter-severity").value;
    const code = $("filter-code").value;
    const text = $("filter-text").value.trim().toLowerCase();
    let shown = 0;
    let total = 0;
    document.querySelectorAll("#problems tbody tr").forEach((tr) => {
      total += 1;
      const ok = (!sev || tr.dataset.severity === sev) && (!code || tr.dataset.code === code) && (!text || tr.textContent.toLowerCase().includes(text));
      tr.classList.toggle("tz-hidden", !ok);
      if (ok) shown += 1;
    });
    $("problem-count").textContent = `${shown} / ${total}`;
  }
  ["filter-severity", "filter-code", "filter-text"].forEach((id) => $(id).addEventListener("input", applyFilters));

  function drawMap(fc) {
    if (!map) {
      map = L.map("problem-map", { attributionControl: false });
      map.setView([22.75, 113.93], 11);
    }
    if (mapLayer) mapLayer.remove();
    featuresByRow.clear();
    if (!fc || !fc.features.length) {
      mapLayer = null;
      return;
    }
    mapLayer = L.geoJSON(fc, {
      style: (f) => ({ color: KIND_COLOURS[f.properties.kind] || "#444", weight: 2, fillOpacity: 0.35 }),
      onEachFeature: (f, layer) => {
        featuresByRow.set(f.properties.row, layer);
        layer.bindTooltip(`第 ${f.properties.row} 行 row ${f.properties.row}: ${f.properties.codes.join(", ")}`);
        layer.on("click", () => selectRow(f.properties.row));
      },
    }).addTo(map);
    map.invalidateSize();
    map.fitBounds(mapLayer.getBounds(), { padding: [20, 20], maxZoom: 18 });
  }

  function selectRow(row) {
    document.querySelectorAll("#problems tbody tr").forEach((tr) => tr.classList.toggle("tz-selected", tr.dataset.row === String(row)));
    const tr = document.querySelector(`#problems tbody tr[data-row="${row}"]`);
    if (tr) tr.scrollIntoView({ block: "nearest" });
  }

  function zoomTo(row) {
    selectRow(row);
    const layer = featuresByRow.get(row);
    if (!layer || !map) return;
    map.fitBounds(layer.getBounds(), { padding: [40, 40], maxZoom: 19 });
    featuresByRow.forEach((l, r) => l.setStyle({ weight: r === row ? 5 : 2 }));
  }

  function preview(rows) {
    const thead = document.querySelector("#preview thead");
    const tbody = document.querySelector("#preview tbody");
    thead.replaceChildren();
    tbody.replaceChildren();
    if (!rows.length) return;
    const keys = Object.keys(rows[0]);
    const htr = document.createElement("tr");
    keys.forEach((k) => htr.append(tz.el("th", k)));
    thead.append(htr);
    for (const r of rows) {
      const tr = document.createElement("tr");
      keys.forEach((k) => {
        const v = r[k];
        const td = tz.el("td", v === null || v === undefined ? "" : k === "area_m2" ? tz.num(v, 2) : v);
        td.dataset.key = k;
        if (k === "row" || k === "area_m2") td.className = "num";
        tr.append(td);
      });
      tbody.append(tr);
    }
  }

  // drag and drop onto the file field
  const zone = $("drop-zone");
  zone.addEventListener("dragover", (ev) => {
    ev.preventDefault();
    zone.classList.add("tz-over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("tz-over"));
  zone.addEventListener("drop", (ev) => {
    ev.preventDefault();
    zone.classList.remove("tz-over");
    $("file").files = ev.dataTransfer.files;
  });
})();
