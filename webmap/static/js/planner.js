/* 研判 / planner page: keeps the chosen layer across filter changes and exports, and opens a
 * grid's popup from the side table. The map itself is folium's (rendered on the server). */
(function () {
  "use strict";
  var map = window.plannerMap;
  var grids = window.plannerGrids;
  if (!map || !grids) { return; }

  var LAYER_NAMES = {};
  var layerInput = document.getElementById("pl-layer");
  var htmlExport = document.getElementById("pl-export-html");
  var reset = document.getElementById("pl-reset");

  // The layer control's radio labels name the layers; map them back to their keys through the
  // legends, which carry the key and follow their layer.
  function currentLayerKey() {
    var legend = document.querySelector(".planner-legend[data-legend]");
    return legend ? legend.getAttribute("data-legend") : null;
  }

  function withLayer(href, key) {
    var url = new URL(href, window.location.href);
    url.searchParams.set("layer", key);
    return url.pathname + url.search;
  }

  function remember() {
    var key = currentLayerKey();
    if (!key) { return; }
    LAYER_NAMES[key] = true;
    if (layerInput) { layerInput.value = key; }
    if (htmlExport) { htmlExport.setAttribute("href", withLayer(htmlExport.getAttribute("href"), key)); }
    if (reset) { reset.setAttribute("href", withLayer(reset.getAttribute("href"), key)); }
    if (window.history && window.history.replaceState) {
      window.history.replaceState(null, "", withLayer(window.location.href, key));
    }
  }

  map.on("baselayerchange", function () { window.setTimeout(remember, 0); });

  function openGrid(i) {
    var point = grids.points[i];
    if (!point) { return; }
    map.setView(point, Math.max(map.getZoom(), 15));
    L.popup({maxWidth: 360, minWidth: 240, className: "planner-popup"})
      .setLatLng(point).setContent(grids.popups[i]).openOn(map);
  }

  var table = document.getElementById("pl-top-grids");
  if (table) {
    table.addEventListener("click", function (ev) {
      var row = ev.target.closest("tr[data-i]");
      if (row) { openGrid(parseInt(row.getAttribute("data-i"), 10)); }
    });
    table.addEventListener("keydown", function (ev) {
      var row = ev.target.closest("tr[data-i]");
      if (row && (ev.key === "Enter" || ev.key === " ")) {
        ev.preventDefault();
        openGrid(parseInt(row.getAttribute("data-i"), 10));
      }
    });
  }

  // The map sits in a flex column whose size is known only after layout.
  window.setTimeout(function () { map.invalidateSize(); }, 0);
  window.plannerOpenGrid = openGrid;
})();
