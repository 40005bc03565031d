// The planners' workbench map (/map). Every figure shown here comes from the server's
// `spatial` functions (review, siting check, suggestions, measuring, printing): this script
// draws and lists, it never decides a rule. Text from the database goes in with textContent.
"use strict";
(function () {
  const cfg = tz.data("tz-map-config");
  const el = tz.el;
  const $ = (id) => document.getElementById(id);
  const m2 = (v) => tz.num(v, 2);
  const ha = (v) => tz.num(v / 10000, 4);

  // ---- layout: the map fills the window below the shared header --------------------------
  const header = document.querySelector(".tz-header");
  const wrap = $("tz-mapwrap");
  function fitWrap() {
    wrap.style.top = (header ? header.offsetHeight : 0) + "px";
  }
  fitWrap();
  window.addEventListener("resize", fitWrap);

  // Leaflet 1.8 removed L.DomEvent.fakeStop, which Leaflet.VectorGrid 1.3 still calls.
  if (!L.DomEvent.fakeStop) L.DomEvent.fakeStop = function (e) { e._stopped = true; };

  const map = L.map("map", { maxZoom: 20, zoomSnap: 0.25 });
  window.tzMap = map;
  map.fitBounds(cfg.bounds, { padding: [10, 10] });
  L.control.scale({ imperial: false, position: "bottomright" }).addTo(map);

  if (cfg.basemap) {
    L.tileLayer(cfg.basemap.url, {
      subdomains: cfg.basemap.subdomains || "abc",
      attribution: cfg.basemap.attribution,
      maxZoom: 20,
    }).addTo(map);
  } else {
    $("basemap-note").hidden = false;
  }

  // ---- layers from our vector tiles --------------------------------------------------------
  const layers = [];
  const overlays = {};
  cfg.layers.forEach(function (spec) {
    const style = spec.style;
    const layer = L.vectorGrid.protobuf(spec.url, {
      rendererFactory: L.canvas.tile,
      interactive: false,
      maxNativeZoom: 20,
      maxZoom: 22,
      vectorTileLayerStyles: {
        [spec.id]: function (props) {
          const s = Object.assign({}, style.base);
          if (style.by && style.colours[props[style.by]]) s.fillColor = style.colours[props[style.by]];
          return s;
        },
      },
    });
    if (spec.show) layer.addTo(map);
    layers.push({ spec: spec, layer: layer });
    overlays[spec.title] = layer;
  });
  L.control.layers(null, overlays, { collapsed: true, position: "topleft" }).addTo(map);

  // legend
  const legend = $("legend");
  cfg.legend.forEach(function (section) {
    legend.appendChild(el("b", section.title));
    legend.appendChild(document.createElement("br"));
    section.items.forEach(function (item) {
      const sw = el("i");
      sw.style.background = item.colour;
      legend.appendChild(sw);
      legend.appendChild(document.createTextNode(item.label));
      legend.appendChild(document.createElement("br"));
    });
  });

  // highlight layers (evidence of the review, the clicked feature, the candidate)
  const evidenceStyle = {
    occupied: { color: "#000000", weight: 2, fillColor: "#333333", fillOpacity: 0.65 },
    uncovered: { color: "#8a7a00", weight: 2, fillColor: "#F0E442", fillOpacity: 0.75 },
    conflict: { color: "#7a3b63", weight: 2, fillColor: "#CC79A7", fillOpacity: 0.45 },
    candidate: { color: "#000000", weight: 3, dashArray: "6 4", fill: false },
  };
  const evidence = L.geoJSON(null, {
    style: (f) => evidenceStyle[f.properties.kind] || {},
    interactive: false,
  }).addTo(map);
  // the occupied part is drawn last, on top of conflicts and uncovered parts
  const ORDER = { candidate: 0, conflict: 1, uncovered: 2, occupied: 3 };
  function byDrawingOrder(fc) {
    const features = fc.features.slice().sort((a, b) => ORDER[a.properties.kind] - ORDER[b.properties.kind]);
    return { type: "FeatureCollection", features: features };
  }
  const highlight = L.geoJSON(null, {
    style: { color: "#00e5ff", weight: 4, fill: false },
    interactive: false,
  }).addTo(map);

  // ---- tabs ----------------------------------------------------------------------------------
  const tabs = document.querySelectorAll(".tz-tabs button");
  tabs.forEach(function (b) {
    b.addEventListener("click", function () {
      tabs.forEach((x) => x.setAttribute("aria-selected", String(x === b)));
      document.querySelectorAll(".tz-tab").forEach(function (s) {
        s.hidden = s.id !== "tab-" + b.dataset.tab;
      });
    });
  });

  // land-use class names for inputs and popups
  const useList = $("land-use-list");
  Object.keys(cfg.landUse).forEach(function (code) {
    const o = document.createElement("option");
    o.value = code;
    o.label = code + " " + cfg.landUse[code];
    useList.appendChild(o);
  });
  function classLabel(code) {
    if (!code) return "";
    const name = cfg.landUse[String(code).trim().toUpperCase()];
    return name ? code + " " + name : String(code);
  }

  // ---- popups: the clicked feature first, highlighted; formatted; no duplicate rows -------
  const AREA_FIELDS = /(^|_)(area|m2)(_|$)|_m2$/;
  const CLASS_FIELDS = { land_use: 1, land_use_class: 1, planned_use: 1, zone_class: 1 };
  function formatValue(key, v) {
    if (cfg.labels[key] && cfg.labels[key][v]) return cfg.labels[key][v];
    if (CLASS_FIELDS[key]) return classLabel(v);
    if (Array.isArray(v)) return v.join("、");
    if (typeof v === "number") {
      if (AREA_FIELDS.test(key)) return m2(v) + " m²（" + ha(v) + " 公顷）";
      return Number.isInteger(v) ? tz.num(v, 0) : m2(v);
    }
    return String(v);
  }
  function popupSection(title, fields, props, first, layerId) {
    const div = el("div", null, first ? "first" : "");
    div.appendChild(el("h4", (first ? "▶ " : "") + title));
    const table = el("table");
    const seen = new Set();
    const names = new Set(fields.map((f) => f[0]));
    fields.forEach(function (f) {
      const key = f[0];
      let v = props[key];
      if (v === undefined || v === null || v === "") return;
      // a code and its Chinese label (route / route_zh, category / category_zh) say the
      // same thing: show the label once
      if (names.has(key + "_zh") && props[key + "_zh"]) return;
      const text = formatValue(key, v);
      const row = f[1] + "\u0000" + text;
      if (seen.has(row)) return;
      seen.add(row);
      const tr = el("tr");
      tr.appendChild(el("th", f[1]));
      tr.appendChild(el("td", text));
      table.appendChild(tr);
    });
    div.appendChild(table);
    if (layerId === "projects") {
      const i = cfg.projects.findIndex((p) => p.code === props.code);
      if (i >= 0) {
        const b = el("button", "审查此项目 Review this project", "tz-popup-review");
        b.type = "button";
        b.addEventListener("click", function () {
          select.value = String(i);
          openProject(i);
          document.querySelector("[data-tab=review]").click();
        });
        div.appendChild(b);
      }
    }
    return div;
  }
  let drawing = false;
  map.on("click", function (e) {
    if (drawing) return;
    const p = map.project(e.latlng);
    const sw = map.unproject(p.add([-2, 2]));
    const ne = map.unproject(p.add([2, -2]));
    const bbox = [sw.lng, sw.lat, ne.lng, ne.lat].map((v) => v.toFixed(7)).join(",");
    // top of the drawing order first; project outlines (unfilled) after the filled layers
    const visible = layers.filter((l) => map.hasLayer(l.layer)).reverse();
    visible.sort((a, b) => (a.spec.id === "projects") - (b.spec.id === "projects"));
    Promise.all(
      visible.map(function (l) {
        return fetch("/collections/" + l.spec.id + "/items?limit=3&bbox=" + bbox, { credentials: "same-origin" })
          .then((r) => (r.ok ? r.json() : { features: [] }))
          .then((fc) => ({ l: l, features: fc.features || [] }));
      })
    ).then(function (results) {
      const box = el("div", null, "tz-popup");
      const seen = new Set();
      let first = null;
      results.forEach(function (res) {
        res.features.forEach(function (f) {
          const id = res.l.spec.id + "/" + f.id;
          if (seen.has(id)) return;
          seen.add(id);
          if (!first) first = f;
          box.appendChild(popupSection(res.l.spec.title, res.l.spec.fields, f.properties, box.childNodes.length === 0, res.l.spec.id));
        });
      });
      highlight.clearLayers();
      if (!first) return;
      highlight.addData(first);
      L.popup({ maxWidth: 400, maxHeight: 440 }).setLatLng(e.latlng).setContent(box).openOn(map);
    }).catch(function () {});
  });
  map.on("popupclose", () => highlight.clearLayers());

  // ---- review panel ----------------------------------------------------------------------------
  const select = $("project-select");
  cfg.projects.forEach(function (p, i) {
    const o = document.createElement("option");
    o.value = String(i);
    o.textContent = p.code + " " + p.name;
    select.appendChild(o);
  });
  let current = null; // {project, review, sites: FeatureCollection}
  window.tzReview = () => current;

  function setBadge(node, route, label) {
    node.className = "tz-badge " + route;
    node.textContent = label + (route === "district" ? "（≤ 3000 m²）" : "（> 3000 m²）");
    node.dataset.route = route;
  }

  async function openProject(index) {
    const p = cfg.projects[index];
    if (!p) return;
    select.value = String(index);
    map.fitBounds(p.bounds, { padding: [20, 20] });
    evidence.clearLayers();
    $("review-body").hidden = true;
    const sites = await tz.request(
      "/collections/retained_land/items?limit=1000&project_code=" + encodeURIComponent(p.code)
    ).catch(() => ({ features: [] }));
    current = { project: p, review: null, sites: sites };
    fillReplaces(sites);
    if (!cfg.signedIn) {
      $("review-login").hidden = false;
      return;
    }
    let review;
    try {
      review = await tz.request("/projects/" + encodeURIComponent(p.code) + "/review");
    } catch (err) {
      $("review-login").hidden = err.status !== 401 && err.status !== 403;
      if (err.status === 401 || err.status === 403) $("review-login").hidden = false;
      return;
    }
    current.review = review;
    showReview(review);
    const ev = await tz.request("/projects/" + encodeURIComponent(p.code) + "/review/evidence").catch(() => null);
    if (ev) evidence.addData(byDrawingOrder(ev));
  }
  window.tzOpenProject = openProject;

  function showReview(r) {
    const v = r.verdict;
    setBadge($("route-badge"), v.route, v.route_label_zh);
    $("review-total").textContent = "占用国有储备土地合计 " + m2(v.total_occupied_m2) + " m²";
    $("review-total").dataset.value = v.total_occupied_m2.toFixed(2);
    $("review-rounding").textContent = "取整：" + v.rounding + "；比较：" + r.reserve.comparison;
    $("review-path").textContent = "路径：" + v.publicity.text_zh + "（" + v.publicity.articles + "）";
    $("review-verdict").textContent = v.verdict_zh;
    const tbody = $("review-sites").querySelector("tbody");
    tbody.replaceChildren();
    r.sites.forEach(function (s) {
      const tr = el("tr");
      tr.dataset.site = s.site_code;
      const name = el("td", s.site_code);
      name.title = s.site_name || "";
      tr.appendChild(name);
      const use = el("td", s.planned_use);
      use.title = classLabel(s.planned_use);
      tr.appendChild(use);
      [s.site_area_m2, s.occupied_reserve_m2, s.covered_m2, s.uncovered_m2].forEach(function (x) {
        tr.appendChild(el("td", m2(x), "num"));
      });
      tr.appendChild(el("td", s.conflict_zones.join("、") || "—"));
      const why = Array.from(new Set(s.reasons.map((x) => x.zh))).join("；");
      tr.appendChild(el("td", s.planning_study_required ? "需要（" + why + "；乙级及以上资质）" : "不需要"));
      tr.addEventListener("click", () => zoomToSite(s.site_code));
      tbody.appendChild(tr);
    });
    const code = encodeURIComponent(r.project_code);
    $("dl-xlsx").href = "/projects/" + code + "/review.xlsx";
    $("dl-pdf").href = "/projects/" + code + "/review.pdf";
    $("review-login").hidden = true;
    $("review-body").hidden = false;
  }

  function siteFeature(code) {
    if (!current || !current.sites) return null;
    return current.sites.features.find((f) => f.properties.code === code) || null;
  }
  function zoomToSite(code) {
    const f = siteFeature(code);
    if (!f) return;
    highlight.clearLayers();
    highlight.addData(f);
    map.fitBounds(highlight.getBounds(), { padding: [60, 60], maxZoom: 18 });
  }
  select.addEventListener("change", function () {
    if (select.value !== "") openProject(Number(select.value));
  });

  // ---- siting check (选址试算) ------------------------------------------------------------------
  const candidate = L.featureGroup().addTo(map);
  let candidateGeom = null; // GeoJSON geometry in CRS84, or pasted in another CRS
  let candidateCrs = 4326;
  window.tzCandidate = () => ({ geometry: candidateGeom, crs: candidateCrs });

  function fillReplaces(sites) {
    const s = $("siting-replaces");
    s.replaceChildren(new Option("— 新增候选 —", ""));
    (sites.features || []).forEach(function (f) {
      s.appendChild(new Option(f.properties.code + " " + (f.properties.name || "") + "（" + classLabel(f.properties.land_use) + "）", f.properties.code));
    });
  }
  $("siting-replaces").addEventListener("change", function () {
    const f = siteFeature($("siting-replaces").value);
    if (f && f.properties.land_use) $("siting-use").value = f.properties.land_use;
  });

  function sitingError(msg) {
    $("siting-error").textContent = msg;
    $("siting-error").hidden = !msg;
  }
  function candidateBody() {
    if (!current) throw new Error("请先在“审查”中选择整备项目");
    return {
      project_code: current.project.code,
      planned_use: $("siting-use").value.trim(),
      geometry: candidateGeom,
      crs: candidateCrs,
      replaces_site_code: $("siting-replaces").value || null,
    };
  }
  async function runCheck() {
    sitingError("");
    if (!candidateGeom) return;
    let res;
    try {
      res = await tz.request("/siting/check", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(candidateBody()),
      });
    } catch (err) {
      sitingError((err.body && err.body.message_zh) || err.message);
      return;
    }
    showCheck(res, $("siting-result"), $("siting-badge"), $("siting-total"), $("siting-table"), $("siting-verdict"));
    evidence.clearLayers();
    evidence.addData(byDrawingOrder(res.evidence));
    window.tzLastCheck = res;
  }
  window.tzRunCheck = runCheck;

  function showCheck(res, box, badge, total, table, verdict) {
    setBadge(badge, res.after.route, res.after.route_label_zh);
    total.textContent = "项目合计 " + m2(res.before.total_occupied_m2) + " → " + m2(res.after.total_occupied_m2) + " m²" + (res.route_changes ? "（审批路径改变）" : "");
    total.dataset.value = res.after.total_occupied_m2.toFixed(2);
    const rows = [
      ["候选面积", m2(res.candidate_area_m2) + " m²（" + ha(res.candidate_area_m2) + " 公顷）"],
      ["占用国有储备土地", m2(res.occupied_reserve_m2) + " m²" + (res.reserve_codes.length ? "（" + res.reserve_codes.join("、") + "）" : "")],
      ["法定图则覆盖", m2(res.coverage.covered_m2) + " m²"],
      ["未覆盖", m2(res.coverage.uncovered_m2) + " m²"],
      ["用途冲突地块", res.coverage.conflicts.map((z) => z.zone_code + "（" + classLabel(z.zone_class) + "）").join("、") || "—"],
      ["需规划研究", res.coverage.planning_study_required ? "需要（" + Array.from(new Set(res.coverage.reasons.map((x) => x.zh))).join("；") + "）" : "不需要"],
      ["项目范围外", m2(res.outside_project_m2) + " m²"],
      ["与现有留用土地重叠", res.overlapping_sites.join("、") || "无"],
      ["取整", res.rounding],
    ];
    const tbody = table.querySelector("tbody");
    tbody.replaceChildren();
    rows.forEach(function (r) {
      const tr = el("tr");
      tr.appendChild(el("th", r[0]));
      tr.appendChild(el("td", r[1]));
      tbody.appendChild(tr);
    });
    verdict.textContent = res.verdict_zh;
    box.hidden = false;
  }

  function setCandidateFromLayer(layer) {
    candidate.clearLayers();
    candidate.addLayer(layer);
    candidateGeom = layer.toGeoJSON(false).geometry;
    candidateCrs = 4326;
    layer.on("pm:edit", function () {
      candidateGeom = layer.toGeoJSON(false).geometry;
      runCheck();
    });
    runCheck();
  }
  window.tzSetCandidate = function (geometry, crs) {
    candidate.clearLayers();
    candidateGeom = geometry;
    candidateCrs = crs || 4326;
    if (candidateCrs === 4326 || candidateCrs === 4490) {
      const lyr = L.geoJSON(geometry, { style: evidenceStyle.candidate });
      lyr.eachLayer((x) => candidate.addLayer(x));
    }
    return runCheck();
  };

  map.pm.setLang("zh");
  map.pm.setGlobalOptions({ snappable: true, allowSelfIntersection: false });
  let drawPurpose = null;
  $("siting-draw").addEventListener("click", function () {
    drawPurpose = "candidate";
    drawing = true;
    map.pm.enableDraw("Polygon", { pathOptions: evidenceStyle.candidate });
  });
  $("siting-edit").addEventListener("click", function () {
    const code = $("siting-replaces").value;
    const f = siteFeature(code);
    if (!f) {
      sitingError("请先在上方选择要编辑的现有留用土地");
      return;
    }
    const lyr = L.geoJSON(f, { style: evidenceStyle.candidate }).getLayers()[0];
    setCandidateFromLayer(lyr);
    lyr.pm.enable({ allowSelfIntersection: false });
  });
  $("siting-clear").addEventListener("click", function () {
    candidate.clearLayers();
    candidateGeom = null;
    evidence.clearLayers();
    $("siting-result").hidden = true;
  });
  map.on("pm:create", function (e) {
    drawing = false;
    if (drawPurpose === "candidate") {
      setCandidateFromLayer(e.layer);
    } else if (drawPurpose === "measure") {
      measureLayer(e.layer);
    }
    drawPurpose = null;
  });
  map.on("pm:drawend", () => setTimeout(() => { drawing = false; }, 0));

  $("siting-paste-go").addEventListener("click", function () {
    const text = $("siting-paste").value.trim();
    const crs = Number($("siting-paste-crs").value);
    let geometry;
    try {
      if (text.startsWith("{")) {
        const g = JSON.parse(text);
        geometry = g.type === "Feature" ? g.geometry : g;
      } else {
        const ring = text.split(/\n+/).map((line) => line.trim()).filter(Boolean).map(function (line) {
          const xy = line.split(/[\s,，;；]+/).map(Number);
          if (xy.length < 2 || xy.some((v) => Number.isNaN(v))) throw new Error("无法读取坐标行：" + line);
          return [xy[0], xy[1]];
        });
        if (ring.length < 3) throw new Error("至少需要 3 个坐标");
        const a = ring[0], b = ring[ring.length - 1];
        if (a[0] !== b[0] || a[1] !== b[1]) ring.push(a);
        geometry = { type: "Polygon", coordinates: [ring] };
      }
    } catch (err) {
      sitingError(err.message);
      return;
    }
    window.tzSetCandidate(geometry, crs);
  });

  async function download(url, body, name) {
    const resp = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": tz.csrf },
      body: JSON.stringify(body),
    });
    if (!resp.ok) {
      const j = await resp.json().catch(() => ({}));
      sitingError(j.message_zh || resp.statusText);
      return;
    }
    const blob = await resp.blob();
    const a = el("a");
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
  }
  $("siting-dl-geojson").addEventListener("click", () => download("/siting/candidate.geojson", candidateBody(), "candidate.geojson"));
  $("siting-dl-shp").addEventListener("click", () => download("/siting/candidate.zip", candidateBody(), "candidate.zip"));

  // ---- suggestions -------------------------------------------------------------------------------
  const suggestLayer = L.geoJSON(null, {
    style: { color: "#0072B2", weight: 2, dashArray: "4 3", fillOpacity: 0.15 },
  }).addTo(map);
  async function runSuggest() {
    const list = $("suggest-list");
    list.replaceChildren();
    suggestLayer.clearLayers();
    if (!current) {
      $("suggest-status").textContent = "请先在“审查”中选择整备项目";
      return;
    }
    $("suggest-status").textContent = "计算中…";
    let res;
    try {
      res = await tz.request("/siting/suggestions", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          project_code: current.project.code,
          planned_use: $("suggest-use").value.trim(),
          area_m2: Number($("suggest-area").value),
        }),
      });
    } catch (err) {
      $("suggest-status").textContent = (err.body && err.body.message_zh) || err.message;
      return;
    }
    window.tzLastSuggestions = res;
    $("suggest-status").textContent =
      "其他留用土地已占用 " + m2(res.other_sites_occupied_m2) + " m²，距 3000 m² 尚余 " + m2(res.budget_m2) +
      " m²；栅格 " + res.resolution_m + " m，评估 " + tz.num(res.windows_evaluated, 0) + " 个窗口；" + res.note_zh;
    if (!res.suggestions.length) {
      list.appendChild(el("li", "项目范围内没有可容纳该面积的位置"));
      return;
    }
    suggestLayer.addData(res.geojson);
    res.suggestions.forEach(function (s, i) {
      const c = s.check;
      const li = el("li");
      li.dataset.rank = String(s.rank);
      li.appendChild(el("b", "建议 " + s.rank + "：" + c.after.route_label_zh));
      li.appendChild(el("div", "面积 " + m2(c.candidate_area_m2) + " m²（" + s.width_m + " × " + s.height_m + " m，紧凑度 " + s.compactness + "）"));
      li.appendChild(el("div", "占用储备 " + m2(c.occupied_reserve_m2) + " m²；项目合计 " + m2(c.after.total_occupied_m2) + " m²"));
      li.appendChild(el("div", "图则覆盖 " + m2(c.coverage.covered_m2) + " m²，未覆盖 " + m2(c.coverage.uncovered_m2) + " m²；" + (c.coverage.planning_study_required ? "需规划研究" : "无需规划研究")));
      li.addEventListener("click", function () {
        list.querySelectorAll("li").forEach((x) => x.classList.remove("active"));
        li.classList.add("active");
        const f = res.geojson.features[i];
        $("siting-use").value = res.planned_use;
        highlight.clearLayers();
        highlight.addData(f);
        map.fitBounds(highlight.getBounds(), { padding: [80, 80], maxZoom: 18 });
        window.tzSetCandidate(f.geometry, 4326);
      });
      list.appendChild(li);
    });
  }
  $("suggest-go").addEventListener("click", runSuggest);

  // ---- search -------------------------------------------------------------------------------------
  $("search-form").addEventListener("submit", async function (e) {
    e.preventDefault();
    const q = $("search-q").value.trim();
    const ul = $("search-results");
    ul.replaceChildren();
    if (!q) return;
    let hits;
    try {
      hits = await tz.request("/search?q=" + encodeURIComponent(q));
    } catch (err) {
      ul.appendChild(el("li", (err.body && err.body.message_zh) || err.message));
      return;
    }
    if (!hits.length) ul.appendChild(el("li", "没有找到"));
    hits.forEach(function (h) {
      const li = el("li", h.layer_zh + " " + h.code + (h.label ? " · " + formatValue(h.layer === "parcels" ? "category" : "", h.label) : ""));
      li.dataset.layer = h.layer;
      li.dataset.code = h.code;
      li.addEventListener("click", async function () {
        const b = h.bbox;
        map.fitBounds([[b[1], b[0]], [b[3], b[2]]], { padding: [60, 60], maxZoom: 18 });
        const key = h.layer === "projects" || h.layer === "parcels" || h.layer === "retained_land" ? "code" : null;
        let url = "/collections/" + h.layer + "/items?limit=1&" + key + "=" + encodeURIComponent(h.code);
        if (h.layer === "retained_land" && h.project_code) url += "&project_code=" + encodeURIComponent(h.project_code);
        const fc = await tz.request(url).catch(() => null);
        highlight.clearLayers();
        if (fc) highlight.addData(fc);
        if (h.layer === "projects") {
          const i = cfg.projects.findIndex((p) => p.code === h.code);
          if (i >= 0) {
            select.value = String(i);
            openProject(i);
          }
        }
      });
      ul.appendChild(li);
    });
  });

  // ---- attribute table ----------------------------------------------------------------------------
  const tableLayer = $("table-layer");
  cfg.layers.slice().reverse().forEach(function (l) {
    tableLayer.appendChild(new Option(l.title, l.id));
  });
  function viewBbox() {
    const b = map.getBounds();
    return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(7)).join(",");
  }
  let tableRows = [];
  let tableSpec = null;
  let sortKey = null, sortDir = 1;
  async function loadTable() {
    const spec = cfg.layers.find((l) => l.id === tableLayer.value);
    const scope = $("table-scope").value;
    let query;
    if (scope === "project") {
      if (!current) {
        $("table-status").textContent = "请先选择整备项目";
        return;
      }
      query = "project=" + encodeURIComponent(current.project.code);
    } else {
      query = "bbox=" + viewBbox();
    }
    let url = "/collections/" + spec.id + "/items?limit=2000&";
    if (scope === "project") {
      const hasProject = spec.fields.some((f) => f[0] === "project_code");
      const key = hasProject ? "project_code" : spec.id === "projects" ? "code" : null;
      if (key) {
        url += key + "=" + encodeURIComponent(current.project.code);
      } else {
        const b = current.project.bounds;
        url += "bbox=" + [b[0][1], b[0][0], b[1][1], b[1][0]].join(",");
      }
    } else {
      url += "bbox=" + viewBbox();
    }
    const fc = await tz.request(url);
    tableSpec = spec;
    tableRows = fc.features;
    $("table-status").textContent = spec.title + "：" + tz.num(fc.numberMatched, 0) + " 个要素" + (fc.numberMatched > fc.features.length ? "（显示前 " + tz.num(fc.features.length, 0) + " 个；导出包含全部）" : "");
    ["xlsx", "gpkg", "zip"].forEach(function (fmt) {
      $("exp-" + fmt).href = "/export/" + spec.id + "." + fmt + "?" + query;
    });
    $("table-exports").hidden = false;
    sortKey = null;
    renderTable();
  }
  function renderTable() {
    const thead = $("attr-table").querySelector("thead");
    const tbody = $("attr-table").querySelector("tbody");
    thead.replaceChildren();
    tbody.replaceChildren();
    if (!tableSpec) return;
    const fields = tableSpec.fields;
    const tr = el("tr");
    fields.forEach(function (f) {
      const th = el("th", f[1] + (sortKey === f[0] ? (sortDir > 0 ? " ▲" : " ▼") : ""));
      th.addEventListener("click", function () {
        sortDir = sortKey === f[0] ? -sortDir : 1;
        sortKey = f[0];
        renderTable();
      });
      tr.appendChild(th);
    });
    thead.appendChild(tr);
    const rows = tableRows.slice();
    if (sortKey) {
      rows.sort(function (a, b) {
        const x = a.properties[sortKey], y = b.properties[sortKey];
        if (x === y) return 0;
        if (x === null || x === undefined) return 1;
        if (y === null || y === undefined) return -1;
        return (typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y), "zh-CN")) * sortDir;
      });
    }
    rows.forEach(function (f) {
      const r = el("tr");
      fields.forEach(function (fd) {
        const v = f.properties[fd[0]];
        const num = typeof v === "number";
        const raw = fields.some((x) => x[0] === fd[0] + "_zh");
        const shown = v === null || v === undefined ? "" : num ? (AREA_FIELDS.test(fd[0]) ? m2(v) : Number.isInteger(v) ? tz.num(v, 0) : m2(v)) : raw ? String(v) : formatValue(fd[0], v);
        r.appendChild(el("td", shown, num ? "num" : ""));
      });
      r.addEventListener("click", function () {
        highlight.clearLayers();
        highlight.addData(f);
        map.fitBounds(highlight.getBounds(), { padding: [60, 60], maxZoom: 18 });
      });
      tbody.appendChild(r);
    });
  }
  $("table-load").addEventListener("click", () => loadTable().catch((err) => { $("table-status").textContent = err.message; }));

  // ---- measure and print --------------------------------------------------------------------------
  $("measure-method").textContent = cfg.measureMethod;
  function startMeasure(shape) {
    drawPurpose = "measure";
    drawing = true;
    map.pm.enableDraw(shape, { pathOptions: { color: "#E69F00", weight: 3 } });
  }
  const measured = L.featureGroup().addTo(map);
  async function measureLayer(layer) {
    measured.clearLayers();
    measured.addLayer(layer);
    const res = await tz.request("/measure", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ geometry: layer.toGeoJSON(false).geometry, crs: 4326 }),
    }).catch((err) => ({ error: (err.body && err.body.message_zh) || err.message }));
    window.tzLastMeasure = res;
    if (res.error) {
      $("measure-result").textContent = res.error;
    } else if (res.geometry_type === "Polygon") {
      $("measure-result").textContent = "面积 " + m2(res.area_m2) + " m²（" + tz.num(res.area_ha, 4) + " 公顷），周长 " + m2(res.length_m) + " m";
    } else {
      $("measure-result").textContent = "距离 " + m2(res.length_m) + " m";
    }
    $("measure-method").textContent = res.method_zh || cfg.measureMethod;
  }
  window.tzMeasure = (geometry) => measureLayer(L.geoJSON(geometry).getLayers()[0]);
  $("measure-line").addEventListener("click", () => startMeasure("Line"));
  $("measure-area").addEventListener("click", () => startMeasure("Polygon"));
  function printLinks() {
    const q = "bbox=" + viewBbox() + "&title=" + encodeURIComponent($("print-title").value);
    $("print-pdf").href = "/map/print.pdf?" + q;
    $("print-png").href = "/map/print.png?" + q;
  }
  map.on("moveend", printLinks);
  $("print-title").addEventListener("input", printLinks);
  printLinks();
})();
