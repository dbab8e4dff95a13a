// The planner page's map and grid data by name: folium declares them as globals in its
// (nonce-carrying) script; the page names them in the JSON block #planner-names.
(function () {
  "use strict";
  var names = JSON.parse(document.getElementById("planner-names").textContent);
  window.plannerMap = window[names.map];
  window.plannerGrids = {
    names: window[names.grids + "_names"],
    popups: window[names.grids + "_popups"],
    points: window[names.grids + "_points"],
  };
})();
