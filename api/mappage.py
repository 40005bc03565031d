"""The planners' web map, built with folium and served fully offline.

folium's templates point at CDNs; ``OfflineMap`` swaps every script and stylesheet for a copy
the app serves itself from the npm-installed ``node_modules`` (mounted under ``/vendor``).
"""

from __future__ import annotations

import folium
from branca.element import MacroElement, Template

LOCAL_JS = [
    ("leaflet", "/vendor/leaflet/leaflet.js"),
    ("vectorgrid", "/vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js"),
]
LOCAL_CSS = [("leaflet_css", "/vendor/leaflet/leaflet.css")]


class OfflineMap(folium.Map):
    """A folium Map whose JS and CSS come from the app, never from a CDN."""

    default_js = LOCAL_JS
    default_css = LOCAL_CSS


class Legend(MacroElement):
    """A fixed-position HTML legend (Chinese labels, English alongside)."""

    _template = Template(
        """
        {% macro html(this, kwargs) %}
        <div id="legend" style="position:fixed;bottom:24px;left:12px;z-index:1000;background:#fff;
             padding:8px 10px;border:1px solid #999;border-radius:4px;font:13px sans-serif;">
          <b>{{ this.title }}</b><br>
          {% for label, colour in this.items %}
            <i style="display:inline-block;width:12px;height:12px;background:{{ colour }};
               margin-right:4px;border:1px solid #555"></i>{{ label }}<br>
          {% endfor %}
        </div>
        {% endmacro %}
        """
    )

    def __init__(self, title: str, items: list[tuple[str, str]]) -> None:
        super().__init__()
        self._name = "Legend"
        self.title = title
        self.items = items
