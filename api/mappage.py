"""The planners' web map, built with folium and served fully offline.

folium's templates point at CDNs; ``OfflineMap`` swaps every script and stylesheet for a copy
the app serves itself from the npm-installed ``node_modules`` (mounted under ``/vendor``).
Large layers are drawn from our own vector tiles with Leaflet.VectorGrid (protobuf); nothing
is fetched from any other host unless a Tianditu key is configured.

Every value that reaches the page's scripts goes through :func:`api.html_json.html_json` (project
names and codes come from the database), the legend's text is HTML-escaped, and popups escape
feature properties in the browser (``tzEscape``). The page's inline scripts carry the response's
Content-Security-Policy nonce (:func:`with_nonce`); nothing else may run.
"""

from __future__ import annotations

import re
from typing import Any

import folium
from branca.element import MacroElement, Template
from folium.map import Layer

from api.html_json import html_json

LOCAL_JS = [
    ("leaflet", "/vendor/leaflet/leaflet.js"),
    ("vectorgrid", "/vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js"),
]
LOCAL_CSS = [("leaflet_css", "/vendor/leaflet/leaflet.css")]


_SCRIPT_TAG = re.compile(r"<script(?=[\s>])")


def with_nonce(page: str, nonce: str) -> str:
    """``page`` with ``nonce`` on every ``<script>`` tag folium wrote.

    Safe because no text from the database can contain ``<script``: it is embedded only as
    :func:`~api.html_json.html_json` (``<`` escaped) or HTML-escaped text.
    """
    return _SCRIPT_TAG.sub(f'<script nonce="{nonce}"', page)


class OfflineMap(folium.Map):
    """A folium Map whose JS and CSS come from the app, never from a CDN."""

    default_js = LOCAL_JS
    default_css = LOCAL_CSS


class Legend(MacroElement):
    """A fixed-position HTML legend with sections (Chinese labels, English alongside)."""

    _template = Template(
        """
        {% macro html(this, kwargs) %}
        <div id="legend" style="position:fixed;bottom:24px;left:12px;z-index:1000;
             background:#fff;padding:8px 10px;border:1px solid #999;border-radius:4px;
             font:12px sans-serif;max-width:300px">
          {% for title, items in this.sections %}
            <b>{{ title|e }}</b><br>
            {% for label, colour in items %}
              <i style="display:inline-block;width:12px;height:12px;background:{{ colour|e }};
                 margin-right:4px;border:1px solid #555;vertical-align:middle"></i>{{ label|e }}<br>
            {% endfor %}
          {% endfor %}
        </div>
        {% endmacro %}
        """
    )

    def __init__(self, sections: list[tuple[str, list[tuple[str, str]]]]) -> None:
        super().__init__()
        self._name = "Legend"
        self.sections = sections


class PageScript(MacroElement):
    """Shared page JavaScript: the popup builder and a Leaflet 1.9 shim for VectorGrid."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <link rel="icon" href="data:,">
        <style>
          .leaflet-container { background: #eef0ec; }
          .tz-popup table { border-collapse: collapse; font: 12px sans-serif; }
          .tz-popup th { text-align: left; padding: 1px 6px 1px 0; color: #444;
                         font-weight: normal; white-space: nowrap; }
          .tz-popup td { padding: 1px 0; }
          .tz-select { font: 13px sans-serif; max-width: 280px; }
        </style>
        <script>
          // Leaflet 1.8 removed L.DomEvent.fakeStop, which Leaflet.VectorGrid 1.3 still calls.
          window.tzShimVectorGrid = function () {
            if (!L.DomEvent.fakeStop) {
              L.DomEvent.fakeStop = function (e) { e._stopped = true; };
            }
          };
          window.tzEscape = function (v) {
            return String(v).replace(/[&<>"']/g, function (c) {
              return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
            });
          };
          window.tzPopup = function (title, fields, props, labels) {
            var rows = "";
            for (var i = 0; i < fields.length; i++) {
              var key = fields[i][0], v = props[key];
              if (v === undefined || v === null || v === "") continue;
              if (labels[key] && labels[key][v]) v = labels[key][v];
              if (typeof v === "number" && !Number.isInteger(v)) v = v.toFixed(2);
              rows += "<tr><th>" + tzEscape(fields[i][1]) + "</th><td>" + tzEscape(v) +
                "</td></tr>";
            }
            return '<div class="tz-popup"><b>' + tzEscape(title) + "</b><table>" + rows +
              "</table></div>";
          };
        </script>
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "PageScript"


class VectorTileLayer(Layer):
    """A Leaflet.VectorGrid protobuf layer of one collection, styled from ``style``.

    The tiles are drawn without pointer events (stacked canvases would swallow each other's
    clicks); :class:`ClickPopups` answers clicks for every visible layer instead.
    ``fields`` are (property, Chinese title) pairs shown in the popup.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        tzShimVectorGrid();
        var {{ this.get_name() }} = (function () {
          var style = {{ this.style_json }};
          var layer = L.vectorGrid.protobuf({{ this.url|tojson }}, {
            rendererFactory: L.canvas.tile,
            interactive: false,
            maxNativeZoom: 20,
            maxZoom: 22,
            vectorTileLayerStyles: {
              {{ this.collection_id|tojson }}: function (props, zoom) {
                var s = Object.assign({}, style.base);
                if (style.by && style.colours[props[style.by]]) {
                  s.fillColor = style.colours[props[style.by]];
                }
                return s;
              }
            }
          });
          window.tzLayers = window.tzLayers || [];
          window.tzLayers.push({
            layer: layer,
            title: {{ this.layer_name|tojson }},
            collection: {{ this.collection_id|tojson }},
            fields: {{ this.fields_json }}
          });
          return layer;
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self,
        collection_id: str,
        name: str,
        url: str,
        style: dict[str, Any],
        fields: list[tuple[str, str]],
        show: bool = True,
    ) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "VectorTileLayer"
        self.collection_id = collection_id
        self.url = url
        self.style_json = html_json(style)
        self.fields_json = html_json(fields)


class ClickPopups(MacroElement):
    """On a map click, ask our OGC API which features of the visible layers are there.

    One ``/collections/{id}/items?bbox=…&limit=1`` request per visible layer (a box of about
    two screen pixels); the popup lists the hits from the top layer down, with the Chinese
    titles and the review attributes of each.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
          var map = {{ this._parent.get_name() }};
          var labels = {{ this.labels_json }};
          map.on("click", function (e) {
            var p = map.project(e.latlng);
            var sw = map.unproject(p.add([-1, 1])), ne = map.unproject(p.add([1, -1]));
            var bbox = [sw.lng, sw.lat, ne.lng, ne.lat].map(function (v) {
              return v.toFixed(7);
            }).join(",");
            var visible = (window.tzLayers || []).filter(function (l) {
              return map.hasLayer(l.layer);
            }).reverse();
            Promise.all(visible.map(function (l) {
              return fetch("/collections/" + l.collection + "/items?limit=1&bbox=" + bbox)
                .then(function (r) { return r.ok ? r.json() : {features: []}; })
                .then(function (fc) {
                  return fc.features.length ? tzPopup(l.title, l.fields,
                    fc.features[0].properties, labels) : "";
                });
            })).then(function (parts) {
              var html = parts.filter(function (x) { return x; }).join("<hr>");
              if (html) {
                L.popup({maxWidth: 380, maxHeight: 420}).setLatLng(e.latlng)
                  .setContent(html).openOn(map);
              }
            }).catch(function () {});
          });
        })();
        {% endmacro %}
        """
    )

    def __init__(self, labels: dict[str, dict[str, str]]) -> None:
        super().__init__()
        self._name = "ClickPopups"
        self.labels_json = html_json(labels)


class ProjectSelector(MacroElement):
    """A drop-down control listing the projects; choosing one zooms the map to it."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
          var projects = {{ this.projects_json }};
          var map = {{ this._parent.get_name() }};
          var control = L.control({position: "topleft"});
          control.onAdd = function () {
            var div = L.DomUtil.create("div", "leaflet-bar");
            div.style.background = "#fff";
            div.style.padding = "4px";
            var select = L.DomUtil.create("select", "tz-select", div);
            select.id = "project-select";
            select.title = "选择项目 Choose a project";
            var first = document.createElement("option");
            first.value = "";
            first.textContent = "选择整备项目 Zoom to project…";
            select.appendChild(first);
            projects.forEach(function (p, i) {
              var o = document.createElement("option");
              o.value = String(i);
              o.textContent = p.code + " " + p.name;
              select.appendChild(o);
            });
            select.addEventListener("change", function () {
              if (select.value === "") return;
              map.fitBounds(projects[Number(select.value)].bounds, {padding: [20, 20]});
            });
            L.DomEvent.disableClickPropagation(div);
            return div;
          };
          control.addTo(map);
          L.control.scale({imperial: false, position: "bottomright"}).addTo(map);
        })();
        {% endmacro %}
        """
    )

    def __init__(self, projects: list[dict[str, Any]]) -> None:
        super().__init__()
        self._name = "ProjectSelector"
        self.projects_json = html_json(projects)
