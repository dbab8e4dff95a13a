/* The dispatcher's page: an address, "lon,lat", a grid code or a map click → the grid, its team,
 * its open complaints and every warning worth a second look.
 *
 * Everything that comes from the API goes into the page with textContent (never innerHTML):
 * complaint text is whatever a resident said, and grid names are whatever an import brought.
 */
(function () {
  "use strict";

  var settingsEl = document.getElementById("dispatcher-settings");
  if (!settingsEl) { return; }
  var cfg = JSON.parse(settingsEl.textContent);
  var S = cfg.strings;
  var API = cfg.urls.api;
  var map = cfg.mapName ? window[cfg.mapName] : null;
  var overlay = cfg.overlay;  // the datum the map is drawn in: "wgs84", or "gcj02" over Amap tiles

  var form = document.getElementById("search-form");
  var input = document.getElementById("q");
  var coordsysSelect = document.getElementById("coordsys");
  var statusEl = document.getElementById("status");
  var candidatesBox = document.getElementById("candidates");
  var warningsBox = document.getElementById("warnings");
  var gridCard = document.getElementById("grid-card");
  var fileLink = document.getElementById("file-here");
  var teamBox = document.getElementById("team");
  var complaintsBox = document.getElementById("open-complaints");
  var readingsBox = document.getElementById("readings");
  var communityCard = document.getElementById("community-card");
  var callText = document.getElementById("call-text");
  var coordsysNote = document.getElementById("coordsys-note");

  var zh = cfg.lang === "zh";
  var COLON = zh ? "：" : ": ";
  var drawn = map ? L.layerGroup().addTo(map) : null;
  var generation = 0;  // answers to an older search are dropped

  // --- small helpers ---------------------------------------------------------------------------

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function clear(node) {
    while (node.firstChild) { node.removeChild(node.firstChild); }
  }

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_m, key) {
      return values[key] === undefined || values[key] === null ? "" : String(values[key]);
    });
  }

  function ApiFailure(message, status, body) {
    this.message = message;
    this.status = status;
    this.body = body;
  }

  function getJSON(url) {
    return fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (response) {
        return response.json().catch(function () { return null; }).then(function (body) {
          if (!response.ok) {
            var message = body && body.error ? body.error.message : response.statusText;
            throw new ApiFailure(message, response.status, body);
          }
          return body;
        });
      });
  }

  function setStatus(text, isError) {
    statusEl.textContent = text || "";
    statusEl.classList.toggle("error", Boolean(isError));
  }

  function resetPanels() {
    candidatesBox.hidden = true;
    clear(candidatesBox.querySelector("ul"));
    clear(warningsBox);
    gridCard.hidden = true;
    fileLink.hidden = true;
    teamBox.hidden = true;
    complaintsBox.hidden = true;
    readingsBox.hidden = true;
    clear(readingsBox.querySelector("ol"));
    communityCard.hidden = true;
    if (drawn) { drawn.clearLayers(); }
  }

  // --- GCJ-02 for the marker only -------------------------------------------------------------
  // Grid shapes come shifted from the server (?coordsys=gcj02); a single point is shifted here with
  // the published forward formula, the same as geo.datums.wgs84_to_gcj02 (a browser test compares).

  var GCJ_A = 6378245.0;
  var GCJ_EE = 0.00669342162296594323;

  function outsideChina(lon, lat) {
    return !(lon >= 72.004 && lon <= 137.8347 && lat >= 0.8293 && lat <= 55.8271);
  }

  function wgs84ToGcj02(lon, lat) {
    if (outsideChina(lon, lat)) { return [lon, lat]; }
    var u = lon - 105.0;
    var v = lat - 35.0;
    var pi = Math.PI;
    var common = (20.0 * Math.sin(6.0 * u * pi) + 20.0 * Math.sin(2.0 * u * pi)) * 2.0 / 3.0 + 0.1 * u * v;
    var sqrtU = Math.sqrt(Math.abs(u));
    var tLat = -100.0 + 2.0 * u + 3.0 * v + 0.2 * v * v + 0.2 * sqrtU + common;
    tLat += (20.0 * Math.sin(v * pi) + 40.0 * Math.sin(v / 3.0 * pi)) * 2.0 / 3.0;
    tLat += (160.0 * Math.sin(v / 12.0 * pi) + 320.0 * Math.sin(v * pi / 30.0)) * 2.0 / 3.0;
    var tLon = 300.0 + u + 2.0 * v + 0.1 * u * u + 0.1 * sqrtU + common;
    tLon += (20.0 * Math.sin(u * pi) + 40.0 * Math.sin(u / 3.0 * pi)) * 2.0 / 3.0;
    tLon += (150.0 * Math.sin(u / 12.0 * pi) + 300.0 * Math.sin(u / 30.0 * pi)) * 2.0 / 3.0;
    var radLat = lat / 180.0 * pi;
    var magic = 1 - GCJ_EE * Math.sin(radLat) * Math.sin(radLat);
    var sqrtMagic = Math.sqrt(magic);
    var dLat = (tLat * 180.0) / ((GCJ_A * (1 - GCJ_EE)) / (magic * sqrtMagic) * pi);
    var dLon = (tLon * 180.0) / (GCJ_A / sqrtMagic * Math.cos(radLat) * pi);
    return [lon + dLon, lat + dLat];
  }

  /** Where a WGS84 point is drawn on this map. */
  function drawAt(lon, lat) {
    var p = overlay === "gcj02" ? wgs84ToGcj02(lon, lat) : [lon, lat];
    return L.latLng(p[1], p[0]);
  }

  // --- drawing -------------------------------------------------------------------------------------

  function gridShapeUrl(code, versionId) {
    var params = new URLSearchParams();
    if (versionId) { params.set("version", versionId); }
    if (overlay !== "wgs84") { params.set("coordsys", overlay); }
    var query = params.toString();
    return API + "/grids/" + encodeURIComponent(code) + ".geojson" + (query ? "?" + query : "");
  }

  function drawGrid(code, versionId, style, mine) {
    if (!map) { return Promise.resolve(null); }
    return getJSON(gridShapeUrl(code, versionId)).then(function (feature) {
      if (mine !== generation) { return null; }
      var layer = L.geoJSON(feature, {style: function () { return style; }, interactive: false});
      layer.addTo(drawn);
      return layer;
    });
  }

  var MAIN_STYLE = {color: "#c0392b", weight: 3, fillColor: "#c0392b", fillOpacity: 0.12};
  var OTHER_STYLE = {color: "#e67e22", weight: 2, dashArray: "6 4", fill: false};

  function fitTo(layers, marker) {
    if (!map) { return; }
    var bounds = null;
    layers.forEach(function (layer) {
      if (layer) { bounds = bounds ? bounds.extend(layer.getBounds()) : L.latLngBounds(layer.getBounds()); }
    });
    if (marker) { bounds = bounds ? bounds.extend(marker.getLatLng()) : L.latLngBounds([marker.getLatLng()]); }
    if (bounds) { map.fitBounds(bounds, {padding: [40, 40], maxZoom: 16}); }
  }

  function addMarker(latlng, title) {
    if (!map) { return null; }
    var marker = L.marker(latlng, {title: title || "", keyboard: false, interactive: false});
    marker.addTo(drawn);
    return marker;
  }

  // --- the panels ----------------------------------------------------------------------------------

  function kindLabel(kind) {
    return kind ? (S["kind_" + kind] || kind) : "";
  }

  function showGridCard(grid) {
    var dl = gridCard.querySelector("dl");
    clear(dl);
    var version = grid.version || {};
    var community = grid.community || {};
    var rows = [
      [S.grid_code, grid.code, "grid-code"],
      [S.grid_name, grid.name, "grid-name"],
      [S.community, community.name || community.code, "grid-community"],
      [S.kind, kindLabel(community.kind), "grid-kind"],
      [S.version, "#" + version.id + " " + (version.label || "") +
        (version.active ? " (" + S.version_active + ")" : ""), "grid-version"],
    ];
    if (grid.population !== null && grid.population !== undefined) {
      rows.push([S.population, grid.population, "grid-population"]);
    }
    rows.forEach(function (row) {
      dl.appendChild(el("dt", null, row[0]));
      var dd = el("dd", row[2], row[1]);
      dl.appendChild(dd);
    });
    gridCard.dataset.code = grid.code;
    gridCard.hidden = false;
  }

  function roleLabel(person) {
    if (zh) { return person.role_zh || S["role_" + person.role] || person.role; }
    return S["role_" + person.role] || person.role;
  }

  function showTeam(team) {
    var tbody = teamBox.querySelector("tbody");
    clear(tbody);
    var people = (team || []).slice().sort(function (a, b) { return a.level - b.level; });
    var masked = false;
    var lastLevel = null;
    people.forEach(function (person) {
      var tr = el("tr", person.level !== lastLevel ? "level-start" : "");
      tr.dataset.level = person.level;
      tr.dataset.role = person.role;
      lastLevel = person.level;
      tr.appendChild(el("td", "role", roleLabel(person)));
      tr.appendChild(el("td", "name", person.name));
      var phoneCell = el("td", "phone");
      if (person.phone && !person.phone_masked) {
        var a = el("a", null, person.phone);
        a.href = "tel:" + person.phone;
        phoneCell.appendChild(a);
      } else {
        phoneCell.textContent = person.phone || "";
      }
      masked = masked || Boolean(person.phone_masked);
      tr.appendChild(phoneCell);
      tr.appendChild(el("td", "unit", S["unit_" + person.unit] || person.unit));
      tbody.appendChild(tr);
    });
    if (!people.length) {
      var empty = el("tr");
      var td = el("td", "muted", S.team_none);
      td.colSpan = 4;
      empty.appendChild(td);
      tbody.appendChild(empty);
    }
    document.getElementById("phones-masked").hidden = !masked;
    teamBox.hidden = false;
  }

  function showComplaints(code, mine) {
    var params = new URLSearchParams({grid: code, state: cfg.openStates.join(","), limit: "50"});
    return getJSON(API + "/complaints?" + params.toString()).then(function (body) {
      if (mine !== generation) { return; }
      var list = complaintsBox.querySelector("ul");
      clear(list);
      complaintsBox.querySelector(".count").textContent = "(" + body.total + ")";
      body.complaints.forEach(function (c) {
        var li = el("li", "complaint");
        li.dataset.id = c.id;
        var head = el("div", "head");
        var link = el("a", "complaint-link", "#" + c.id);
        link.href = cfg.urls.complaint + "/" + encodeURIComponent(c.id);
        head.appendChild(link);
        head.appendChild(el("span", "badge state", S["state_" + c.state] || c.state));
        if (c.category && c.category.name) {  // the API names it in Chinese: the page's language from cfg
          head.appendChild(el("span", "category", (cfg.categories || {})[c.category.code] || c.category.name));
        }
        if (c.reported_at) { head.appendChild(el("span", "muted", c.reported_at.slice(0, 16).replace("T", " "))); }
        li.appendChild(head);
        li.appendChild(el("p", "complaint-text", c.text));
        list.appendChild(li);
      });
      if (!body.complaints.length) { list.appendChild(el("li", "muted", S.open_complaints_none)); }
      var all = complaintsBox.querySelector(".all-link");
      all.textContent = S.all_complaints_of_grid;
      all.href = cfg.urls.complaints + "?" + new URLSearchParams({grid: code}).toString();
      complaintsBox.hidden = false;
    });
  }

  function addWarning(code, text, extra) {
    var box = el("div", "warning");
    box.dataset.code = code;
    box.appendChild(el("span", null, text));
    if (extra) { box.appendChild(el("div", "small muted", extra)); }
    warningsBox.appendChild(box);
  }

  function showWarnings(body) {
    (body.warnings || []).forEach(function (w) {
      if (w.code === "near_boundary" && body.near_boundary) {
        var nb = body.near_boundary;
        addWarning(w.code, format(S.warn_near_boundary, {name: nb.grid.name, code: nb.grid.code,
                                                         distance: Math.round(nb.distance_m * 10) / 10}));
      } else if (w.code === "on_boundary") {
        var grids = (body.also_touches || []).map(function (g) {
          return zh ? g.name + "（" + g.code + "）" : g.name + " (" + g.code + ")";
        });
        addWarning(w.code, format(S.warn_on_boundary, {grids: grids.join(zh ? "、" : ", ")}));
      } else if (w.code === "outside_grids" && body.nearest) {
        addWarning(w.code, format(S.warn_outside, {name: body.nearest.grid.name, code: body.nearest.grid.code,
                                                   distance: Math.round(body.nearest.distance_m)}));
      } else if (w.code === "datum_suspect" && w.coordsys) {
        addWarning(w.code, S.warn_datum_suspect, format(S.warn_datum_detail, {
          coordsys: S["coordsys_" + w.coordsys] || w.coordsys, code: w.grid_code}));
      } else {  // far_outside, …: our words, and (on an English page) the service's details under them
        addWarning(w.code, S["warn_" + w.code] || S.warn_other, zh ? null : w.message);  // its details are English
      }
    });
  }

  var filePoint = null;

  /** The intake form's address: the point, and what the caller said (a category is suggested from it). */
  function fileHref(point) {
    var params = new URLSearchParams({lon: String(point.lon), lat: String(point.lat), coordsys: point.coordsys,
                                      address: point.address || ""});
    var said = callText ? callText.value.trim() : "";
    if (said) { params.set("text", said); }
    return cfg.urls.newComplaint + "?" + params.toString();
  }

  function showFileLink(point) {
    if (!cfg.canFile || !point) { return; }
    filePoint = point;
    fileLink.href = fileHref(point);
    fileLink.hidden = false;
  }

  if (callText) {
    callText.addEventListener("input", function () {
      if (filePoint && !fileLink.hidden) { fileLink.href = fileHref(filePoint); }
    });
  }

  // --- the three kinds of question -----------------------------------------------------------------

  function pointUrl(coordsys, lon, lat) {
    return API + "/point/" + encodeURIComponent(coordsys) + "/" + lon + "," + lat;
  }

  /** The other datum a pasted pair may well be in: GCJ-02 for WGS84 (or CGCS2000), WGS84 for GCJ-02. */
  function otherReading(coordsys) {
    if (coordsys === "gcj02") { return "wgs84"; }
    if (coordsys === "wgs84" || coordsys === "cgcs2000") { return "gcj02"; }
    return null;
  }

  /** A point in a named datum (typed, clicked, or a geocoded address in WGS84).
   *  opts.readings: also read the pair in the other common datum and show both when the grids differ;
   *  opts.keepView: leave the map where it is (a click: the dispatcher is looking there). */
  function locatePoint(lon, lat, coordsys, address, mine, opts) {
    opts = opts || {};
    var altSys = opts.readings ? otherReading(coordsys) : null;
    var alt = altSys ? getJSON(pointUrl(altSys, lon, lat)).catch(function () { return null; }) : null;
    return Promise.all([getJSON(pointUrl(coordsys, lon, lat)), alt]).then(function (answers) {
      var body = answers[0];
      var other = answers[1];
      if (mine !== generation) { return; }
      var differ = other && other.grid && (!body.grid || other.grid.code !== body.grid.code);
      if (differ) { showReadings(coordsys, body, altSys, other); }
      var fit = opts.keepView ? function () {} : fitTo;
      var at = coordsys === overlay ? L.latLng(lat, lon) : drawAt(body.wgs84.lon, body.wgs84.lat);
      var marker = addMarker(at, address || (lon + "," + lat));
      showWarnings(body);
      var point = {lon: lon, lat: lat, coordsys: coordsys, address: address};
      if (body.grid) {
        showGridCard(body.grid);
        showTeam(body.team);
        showFileLink(point);
        var near = body.near_boundary ? body.near_boundary.grid.code : null;
        return Promise.all([
          drawGrid(body.grid.code, body.version.id, MAIN_STYLE, mine),
          near ? drawGrid(near, body.version.id, OTHER_STYLE, mine) : null,
          showComplaints(body.grid.code, mine),
        ]).then(function (layers) {
          if (mine !== generation) { return; }
          return (differ ? drawReading(altSys, other, mine) : Promise.resolve(null)).then(function (otherLayer) {
            if (mine !== generation) { return; }
            fit([layers[0], otherLayer], marker);
            setStatus(address ? S.matched_address + COLON + address : S.point_at + COLON + lon + "," + lat);
          });
        });
      }
      setStatus(S.outside_all, true);
      if (differ) {
        return drawReading(altSys, other, mine).then(function (layer) {
          if (mine === generation) { fit([layer], marker); }
        });
      }
      if (body.nearest) {
        return drawGrid(body.nearest.grid.code, body.version.id, OTHER_STYLE, mine).then(function (layer) {
          if (mine === generation) { fit([layer], marker); }
        });
      }
      fit([], marker);
      return null;
    });
  }

  // --- two readings of one pasted pair -----------------------------------------------------------------

  function coordsysName(name) {
    return S["coordsys_" + name] || name;
  }

  /** Metres between two WGS84 points (haversine; plenty for a few hundred metres). */
  function metresApart(a, b) {
    var rad = Math.PI / 180;
    var dLat = (b.lat - a.lat) * rad;
    var dLon = (b.lon - a.lon) * rad;
    var h = Math.sin(dLat / 2) * Math.sin(dLat / 2) +
      Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) * Math.sin(dLon / 2);
    return 2 * 6371008.8 * Math.asin(Math.sqrt(h));
  }

  function readingItem(title, body, className) {
    var li = el("li", "reading " + className);
    li.dataset.coordsys = body.given ? body.given.coordsys : "";
    li.appendChild(el("strong", "reading-title", title));
    if (!body.grid) {
      li.appendChild(el("div", "reading-grid", S.reading_no_grid));
      return li;
    }
    var g = body.grid;
    var community = g.community && g.community.name ? (zh ? "，" : ", ") + g.community.name : "";
    var line = el("div", "reading-grid", (zh ? g.name + "（" + g.code + "）" : g.name + " (" + g.code + ")") + community);
    line.dataset.code = g.code;
    li.appendChild(line);
    var workers = (body.team || []).filter(function (p) { return p.role === "grid_worker"; });
    workers.forEach(function (p) {
      li.appendChild(el("div", "reading-worker small", roleLabel(p) + COLON + p.name + " " + (p.phone || "")));
    });
    return li;
  }

  /** Both answers, the chosen datum's first, and a way to switch to the other. */
  function showReadings(coordsys, body, altSys, other) {
    var list = readingsBox.querySelector("ol");
    clear(list);
    list.appendChild(readingItem(format(S.reading_chosen, {name: coordsysName(coordsys)}), body, "chosen"));
    var second = readingItem(format(S.reading_other, {name: coordsysName(altSys)}), other, "other");
    var use = el("button", "secondary small", format(S.reading_use, {name: coordsysName(altSys)}));
    use.type = "button";
    use.addEventListener("click", function () {
      coordsysSelect.value = altSys;
      search(input.value, altSys);
    });
    second.appendChild(use);
    list.appendChild(second);
    var metres = Math.round(metresApart(body.wgs84, other.wgs84));
    readingsBox.querySelector(".apart").textContent = format(S.reading_apart, {distance: metres});
    readingsBox.hidden = false;
  }

  function drawReading(altSys, other, mine) {
    addMarker(drawAt(other.wgs84.lon, other.wgs84.lat), coordsysName(altSys));
    return drawGrid(other.grid.code, other.version.id, OTHER_STYLE, mine);
  }

  function locateGrid(code, mine, said) {
    return getJSON(API + "/grids/" + encodeURIComponent(code)).then(function (grid) {
      if (mine !== generation) { return; }
      showGridCard(grid);
      showTeam(grid.team);
      return Promise.all([drawGrid(code, grid.version.id, MAIN_STYLE, mine), showComplaints(code, mine)])
        .then(function (layers) {
          if (mine !== generation) { return; }
          fitTo([layers[0]], null);
          setStatus(said || S.grid_code + COLON + code);
        });
    }, function (failure) {
      if (failure.status === 404) { throw new ApiFailure(S.not_found_grid + COLON + code, 404, null); }
      throw failure;
    });
  }

  /** A community named alone: its card, its grids to pick from, the team above the grids. */
  function locateCommunity(code, mine, said) {
    return getJSON(API + "/communities/" + encodeURIComponent(code)).then(function (community) {
      if (mine !== generation) { return; }
      var dl = communityCard.querySelector("dl");
      clear(dl);
      [[S.community, community.name], [S.community_code, community.code], [S.kind, kindLabel(community.kind)]]
        .forEach(function (row) {
          dl.appendChild(el("dt", null, row[0]));
          dl.appendChild(el("dd", null, row[1]));
        });
      var list = communityCard.querySelector("ul");
      clear(list);
      community.grids.forEach(function (g) {
        var li = el("li");
        var button = el("button", "grid-pick", g.name || g.code);
        button.type = "button";
        button.dataset.code = g.code;
        button.addEventListener("click", function () {
          input.value = g.code;
          run(function (n) { return locateGrid(g.code, n); }, "?" + new URLSearchParams({q: g.code}).toString());
        });
        li.appendChild(button);
        list.appendChild(li);
      });
      communityCard.dataset.code = community.code;
      communityCard.hidden = false;
      showTeam(community.team);
      setStatus(said || S.community + COLON + community.name);
      if (!map || overlay !== "wgs84") { return null; }  // outlines come in WGS84 only
      return getJSON(API + "/communities/" + encodeURIComponent(code) + ".geojson").then(function (feature) {
        if (mine !== generation) { return; }
        var layer = L.geoJSON(feature, {style: function () { return MAIN_STYLE; }, interactive: false});
        layer.addTo(drawn);
        fitTo([layer], null);
      });
    });
  }

  /** A candidate chosen (from the list or its pin on the map): a place, a grid or a community. */
  function pick(c) {
    input.value = c.text;
    var query = "?" + new URLSearchParams({q: c.text}).toString();
    if (c.kind === "grid" && c.code) {
      return run(function (n) { return locateGrid(c.code, n, S.grid_name + COLON + c.text); }, query);
    }
    if (c.kind === "community" && c.code) {
      return run(function (n) { return locateCommunity(c.code, n); }, query);
    }
    return run(function (n) { return locatePoint(c.lon, c.lat, "wgs84", c.text, n); }, query);
  }

  /** Each candidate as a numbered pin the dispatcher can pick (a road alone: its doors along it). */
  function drawCandidates(candidates) {
    if (!map) { return; }
    var layers = [];
    candidates.forEach(function (c, i) {
      if (typeof c.lon !== "number" || typeof c.lat !== "number") { return; }
      var label = format(S.candidate_pin, {n: i + 1, text: c.text});
      var pin = L.marker(drawAt(c.lon, c.lat), {
        icon: L.divIcon({className: "candidate-pin", html: "", iconSize: [24, 24]}),
        keyboard: true,
        title: label,
      });
      pin.on("click", function () { pick(c); });
      pin.addTo(drawn);
      var node = pin.getElement();
      if (node) {
        node.textContent = String(i + 1);
        node.setAttribute("aria-label", label);
        node.dataset.lon = c.lon;
        node.dataset.lat = c.lat;
      }
      layers.push(pin);
    });
    if (layers.length) {
      var bounds = L.latLngBounds(layers.map(function (p) { return p.getLatLng(); }));
      map.fitBounds(bounds, {padding: [40, 40], maxZoom: 17});
    }
  }

  function showCandidates(result) {
    var list = candidatesBox.querySelector("ul");
    clear(list);
    result.candidates.forEach(function (c, i) {
      var li = el("li");
      var button = el("button", "candidate");
      button.type = "button";
      button.appendChild(el("span", "num", String(i + 1)));  // the number of its pin on the map
      button.appendChild(el("span", "text", c.text));
      button.appendChild(el("span", "meta", (c.grid_code || "") + (c.matched ? " · " + c.matched : "")));
      button.dataset.lon = c.lon;
      button.dataset.lat = c.lat;
      button.addEventListener("click", function () { pick(c); });
      li.appendChild(button);
      list.appendChild(li);
    });
    candidatesBox.hidden = false;
    drawCandidates(result.candidates);
    setStatus(result.explanation || "");
  }

  function locateAddress(text, mine) {
    return getJSON(API + "/geocode?" + new URLSearchParams({q: text}).toString()).then(function (result) {
      if (mine !== generation) { return; }
      var best = result.best;
      // the geocoder explains in Chinese; an English page says in its own words what was found
      var said = zh ? result.explanation : "";
      if (result.status === "matched" && best && best.kind === "grid" && best.code) {
        return locateGrid(best.code, mine, said || S.grid_name + COLON + best.text);
      }
      if (result.status === "matched" && best && best.kind === "community" && best.code) {
        return locateCommunity(best.code, mine, said);
      }
      if (result.status === "matched" && best) {
        return locatePoint(best.lon, best.lat, "wgs84", best.text, mine);
      }
      if (result.status === "ambiguous" && result.candidates.length) {
        showCandidates(result);
        return;
      }
      setStatus(S.not_found_address + (result.explanation ? COLON + result.explanation : ""), true);
    });
  }

  // --- running a question ------------------------------------------------------------------------------

  function run(task, query) {
    generation += 1;
    var mine = generation;
    resetPanels();
    setStatus(S.searching);
    if (query !== undefined) { window.history.replaceState(null, "", query); }
    document.body.dataset.busy = "1";
    return Promise.resolve()
      .then(function () { return task(mine); })
      .catch(function (failure) {
        if (mine !== generation) { return; }
        var message = failure && failure.message ? failure.message : String(failure);
        if (zh && failure && failure.body) {  // the service's messages are English: say what kind of failure
          message = (failure && S["error_" + failure.status]) || S.error_other;
        }
        setStatus(S.error + COLON + message, true);
      })
      .then(function () {
        if (mine === generation) { delete document.body.dataset.busy; }
      });
  }

  var GRID_CODE = /^\d{15}$/;
  var PAIR = /^\s*(-?\d+(?:\.\d+)?)\s*[,，\s]\s*(-?\d+(?:\.\d+)?)\s*$/;

  function search(text, coordsys, clicked) {
    var q = text.trim();
    if (!q) { return Promise.resolve(); }
    var query = "?" + new URLSearchParams({q: q, coordsys: coordsys}).toString();
    if (GRID_CODE.test(q)) {
      return run(function (n) { return locateGrid(q, n); }, query);
    }
    var pair = PAIR.exec(q);
    if (pair) {
      var opts = clicked ? {keepView: true} : {readings: true};
      return run(function (n) { return locatePoint(Number(pair[1]), Number(pair[2]), coordsys, "", n, opts); },
                 query);
    }
    return run(function (n) { return locateAddress(q, n); }, query);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    search(input.value, coordsysSelect.value);
  });

  if (map) {
    map.on("click", function (event) {
      // a click is in the map's own datum: WGS84, or GCJ-02 over Amap tiles
      var lon = Math.round(event.latlng.lng * 1e7) / 1e7;
      var lat = Math.round(event.latlng.lat * 1e7) / 1e7;
      input.value = lon + "," + lat;
      coordsysSelect.value = overlay;  // the box now holds the map's own datum (not kept as the choice)
      search(input.value, overlay, true);
    });
  }

  // for tests and for other pages linking here (?q=…&coordsys=…)
  window.RedGridDispatcher = {search: search, wgs84ToGcj02: wgs84ToGcj02, map: map, drawn: drawn,
                              keepCoordsys: function (name) { return keepCoordsys(name); }};

  // --- the datum pasted coordinates are read in, kept per person -------------------------------------

  var STORE_KEY = "redgrid.coordsys";
  var preferred = cfg.coordsys;

  function knownCoordsys(name) {
    return Array.prototype.some.call(coordsysSelect.options, function (o) { return o.value === name; });
  }

  if (cfg.keepsCoordsys === "browser") {
    try {
      var kept = window.localStorage.getItem(STORE_KEY);
      if (kept && knownCoordsys(kept)) { preferred = kept; }
    } catch (_e) { /* storage refused: the default stands */ }
  }
  coordsysSelect.value = preferred;

  function keepCoordsys(name) {
    preferred = name;
    var saved = function () {
      coordsysNote.textContent = format(S.coordsys_saved, {name: coordsysName(name)});
      coordsysNote.dataset.saved = name;
    };
    if (cfg.keepsCoordsys === "server") {
      var body = new URLSearchParams({value: name});
      return fetch(cfg.urls.preference, {method: "POST", credentials: "same-origin", body: body,
                                         headers: {"X-CSRFToken": cfg.csrf, Accept: "application/json"}})
        .then(function (response) {
          if (!response.ok) { throw new ApiFailure(response.statusText, response.status, null); }
          saved();
        })
        .catch(function (failure) { setStatus(S.error + COLON + failure.message, true); });
    }
    try { window.localStorage.setItem(STORE_KEY, name); } catch (_e) { return Promise.resolve(); }
    saved();
    return Promise.resolve();
  }

  coordsysSelect.addEventListener("change", function () { keepCoordsys(coordsysSelect.value); });
  // after a map click the select shows the map's datum; typing again is back to the person's choice
  input.addEventListener("input", function () {
    if (coordsysSelect.value !== preferred) { coordsysSelect.value = preferred; }
  });

  var params = new URLSearchParams(window.location.search);
  if (params.get("coordsys")) { coordsysSelect.value = params.get("coordsys"); }
  if (params.get("q")) {
    input.value = params.get("q");
    search(input.value, coordsysSelect.value);
  }
  input.focus();
})();
