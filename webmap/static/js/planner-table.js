/* 研判 / planner page: sorts the side table of grids by a column (own complaints, smoothed rate
 * per 1,000, Gi* z, hot cluster). A static file: the page's CSP allows no inline scripts.
 * Rows keep their data-i, so planner.js's delegated click still opens the grid's popup. */
(function () {
  "use strict";
  var table = document.getElementById("pl-top-grids");
  if (!table || !table.tBodies.length) { return; }
  var body = table.tBodies[0];
  var state = {key: "count", descending: true};

  function value(row, key) {
    var raw = row.getAttribute("data-" + key);
    var number = raw === null || raw === "" ? NaN : parseFloat(raw);
    return isNaN(number) ? null : number;
  }

  function sortBy(key, descending) {
    var rows = Array.prototype.slice.call(body.rows);
    rows.forEach(function (row, k) { row.setAttribute("data-order", String(k)); });
    rows.sort(function (a, b) {
      var x = value(a, key), y = value(b, key);
      if (x === null && y === null) { return 0; }
      if (x === null) { return 1; }  // missing values last, whichever the direction
      if (y === null) { return -1; }
      if (x === y) { return parseInt(a.getAttribute("data-order"), 10) - parseInt(b.getAttribute("data-order"), 10); }
      return descending ? y - x : x - y;
    });
    rows.forEach(function (row) { body.appendChild(row); });
    Array.prototype.forEach.call(table.querySelectorAll("th[data-sort]"), function (th) {
      th.setAttribute("aria-sort", th.getAttribute("data-sort") === key ? (descending ? "descending" : "ascending") : "none");
    });
    state = {key: key, descending: descending};
  }

  function choose(th) {
    var key = th.getAttribute("data-sort");
    // a new column sorts highest first (clusters: #1 first); the same column again flips
    var descending = key === state.key ? !state.descending : key !== "cluster";
    sortBy(key, descending);
  }

  Array.prototype.forEach.call(table.querySelectorAll("th[data-sort]"), function (th) {
    th.addEventListener("click", function () { choose(th); });
    th.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); choose(th); }
    });
  });
  window.plannerSortGrids = sortBy;
})();
