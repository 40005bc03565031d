// Draws the features of an items or item page (GeoJSON from the page's JSON block) on a
// Leaflet map without a basemap: nothing is fetched from another host.
(function () {
  "use strict";
  function draw() {
    var el = document.getElementById("tz-items-map");
    var data = document.getElementById("tz-features");
    if (!el || !data || typeof L === "undefined") { return; }
    var fc = JSON.parse(data.textContent);
    var map = L.map(el, { attributionControl: false });
    var layer = L.geoJSON(fc, { style: { color: "#2f5d50", weight: 1, fillOpacity: 0.3 } });
    layer.addTo(map);
    var bounds = layer.getBounds();
    if (bounds.isValid()) { map.fitBounds(bounds); } else { map.setView([22.75, 113.93], 12); }
    el.setAttribute("data-features", String(fc.features ? fc.features.length : 0));
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else { draw(); }
})();
