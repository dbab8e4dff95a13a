"""Legends that follow their layer: a legend is on the map while its layer is."""

from __future__ import annotations

from collections.abc import Sequence

from branca.element import MacroElement
from folium.template import Template

from webmap.maps.base import js_json
from webmap.maps.base import text


class Legend(MacroElement):
    """A legend that is on the map exactly while its layer is. Add it to the map after the layer."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }}, layer = {{ this.layer.get_name() }};
            var legend = L.control({position: 'bottomright'});
            legend.onAdd = function () {
                var div = L.DomUtil.create('div', 'map-legend planner-legend');
                div.setAttribute('data-legend', {{ this.key_js }});
                div.innerHTML = {{ this.html_js }};
                return div;
            };
            function sync() {
                if (map.hasLayer(layer)) { if (!legend._map) { legend.addTo(map); } }
                else if (legend._map) { legend.remove(); }
            }
            map.on('layeradd layerremove', sync);
            sync();
        })();
        {% endmacro %}
    """)

    def __init__(
        self, layer, key: str, title: str, entries: Sequence[tuple[str | None, str]], note: str | None = None
    ) -> None:
        super().__init__()
        self._name = "Legend"
        self.layer = layer
        self.key = key
        self.entries = list(entries)
        rows = "".join(
            f'<div class="legend-row"><i style="background:{text(color)}"></i>{text(label)}</div>'
            if color
            else f'<div class="legend-row"><i class="legend-none"></i>{text(label)}</div>'
            for color, label in self.entries
        )
        html = f'<div class="legend-title">{text(title)}</div>{rows}'
        if note:
            html += f'<div class="legend-note">{text(note)}</div>'
        self.html = html
        self.key_js = js_json(key)
        self.html_js = js_json(html)
