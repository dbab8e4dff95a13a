"""The folium maps of the pages, one module per kind of thing drawn.

- ``base``: offline assets, base tiles, outlines, the GCJ-02 overlay shift, embedding a map
  in a page, escaping text and JSON. Its names are re-exported here (``maps.base_map``,
  ``maps.embed``, ``maps.text``, ...).
- ``gridmaps``: the dispatcher page's map and the grid overview (community colours, labels).
- the planner's layers: ``heatmap`` (heat and monthly animation, over ``geo.heat``'s
  weighted points), ``choropleth`` (grids and H3 cells filled by class, grid outlines),
  ``hotspots`` (Gi*), ``legend`` (legends that follow their layer), ``popups`` (a grid's popup).
"""

from webmap.maps.base import TILES
from webmap.maps.base import Embedded
from webmap.maps.base import Translate
from webmap.maps.base import base_map
from webmap.maps.base import configure_assets
from webmap.maps.base import embed
from webmap.maps.base import geometry_json
from webmap.maps.base import js_json
from webmap.maps.base import outline_layer
from webmap.maps.base import overlay_coordsys
from webmap.maps.base import shift_geoms
from webmap.maps.base import shift_points
from webmap.maps.base import text
from webmap.maps.base import tile_origins

__all__ = [
    "TILES",
    "Embedded",
    "Translate",
    "base_map",
    "configure_assets",
    "embed",
    "geometry_json",
    "js_json",
    "outline_layer",
    "overlay_coordsys",
    "shift_geoms",
    "shift_points",
    "text",
    "tile_origins",
]
