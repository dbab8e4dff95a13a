/* Leaflet's own words in the page's language (issue 9, item 10).

   Leaflet writes a few English words into every map: the zoom buttons' titles, the layer
   control's title, the marker's alt text, the title of its attribution link, and an imperial
   scale next to the metric one. Loaded right after leaflet.js (folium's default scripts,
   webmap/maps/base.py), this sets them from the page's catalogue, which the page puts in
   <script type="application/json" id="map-words"> (base.html). The words are read when a
   control is added, so the maps made at the end of the body find them. */
(function () {
  "use strict";
  if (!window.L) { return; }
  var cache = null;
  function words() {
    if (cache === null) {
      var node = document.getElementById("map-words");
      try { cache = node ? JSON.parse(node.textContent) : {}; } catch (e) { cache = {}; }
    }
    return cache;
  }
  function escapeHtml(text) {
    var span = document.createElement("span");
    span.textContent = text;
    return span.innerHTML;
  }

  L.Control.Scale.prototype.options.imperial = false;  // metres and kilometres only

  var zoomAdd = L.Control.Zoom.prototype.onAdd;
  L.Control.Zoom.prototype.onAdd = function (map) {
    var w = words();
    if (w.zoom_in) { this.options.zoomInTitle = w.zoom_in; }
    if (w.zoom_out) { this.options.zoomOutTitle = w.zoom_out; }
    return zoomAdd.call(this, map);
  };

  var attributionAdd = L.Control.Attribution.prototype.onAdd;
  L.Control.Attribution.prototype.onAdd = function (map) {
    var w = words();
    if (w.leaflet_title && this.options.prefix) {
      this.options.prefix = '<a href="https://leafletjs.com" title="' + escapeHtml(w.leaflet_title) + '">Leaflet</a>';
    }
    return attributionAdd.call(this, map);
  };

  var layersLayout = L.Control.Layers.prototype._initLayout;
  L.Control.Layers.prototype._initLayout = function () {
    var out = layersLayout.apply(this, arguments);
    var w = words();
    if (w.layers && this._layersLink) { this._layersLink.title = w.layers; }
    return out;
  };

  // the monthly animation's player (Leaflet.TimeDimension, loaded after this script: patched
  // when the first map is made, before the page's script adds the player)
  var playerPatched = false;
  L.Map.addInitHook(function () {
    var TD = L.Control.TimeDimension;
    if (playerPatched || !TD) { return; }
    playerPatched = true;
    var w = words();
    var createButton = TD.prototype._createButton;
    TD.prototype._createButton = function (title, container) {
      var button = createButton.call(this, title, container);
      var key = "player_" + title.toLowerCase().replace(/ /g, "_");
      if (w[key]) { button.title = w[key]; }
      return button;
    };
    if (w.player_fps) {
      TD.prototype._getDisplaySpeed = function (fps) { return fps + " " + w.player_fps; };
    }
    if (w.player_no_time) {
      TD.prototype._getDisplayNoTimeError = function () { return w.player_no_time; };
    }
  });

  var markerIcon = L.Marker.prototype._initIcon;
  L.Marker.prototype._initIcon = function () {
    var w = words();
    if (w.marker && this.options.alt === "Marker") { this.options.alt = w.marker; }
    return markerIcon.apply(this, arguments);
  };
}());
