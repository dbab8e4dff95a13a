/* The grid overview: the version picker reloads the page with ?version=N (the form works without
 * this script too; the script only saves the click on "Show"). Labels and tooltips come with the map. */
(function () {
  "use strict";
  var root = document.getElementById("grids-page");
  var mapName = root ? root.dataset.map : "";
  window.RedGridGrids = {map: mapName ? window[mapName] : null};
  var select = document.getElementById("version");
  var form = document.getElementById("version-form");
  if (!select || !form) { return; }
  select.addEventListener("change", function () {
    var params = new URLSearchParams(window.location.search);
    params.set("version", select.value);
    window.location.search = params.toString();
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var params = new URLSearchParams(window.location.search);
    params.set("version", select.value);
    window.location.search = params.toString();
  });
})();
