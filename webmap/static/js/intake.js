// The intake form looks for duplicates (issue 9, item 6): once a category and a point or an
// address are known, it asks GET /api/v1/complaints/duplicates and lists the open cases the
// complaint may repeat, each a choice beside "file as a new case". Without this script the
// 查重 button posts the form and the server renders the same list.
(function () {
  "use strict";
  var form = document.getElementById("complaint-form");
  var box = document.getElementById("dup-results");
  var settingsNode = document.getElementById("intake-settings");
  if (!form || !box || !settingsNode) return;
  var settings = JSON.parse(settingsNode.textContent);
  var words = settings.strings;
  var asked = null;

  function field(name) {
    var el = form.elements.namedItem(name);
    return el && "value" in el ? el.value.trim() : "";
  }

  function say(key, values) {
    var text = words[key] || key;
    Object.keys(values || {}).forEach(function (k) {
      text = text.split("{" + k + "}").join(values[k]);
    });
    return text;
  }

  function radio(value, checked) {
    var input = document.createElement("input");
    input.type = "radio";
    input.name = "duplicate_of";
    input.value = value;
    input.checked = checked;
    return input;
  }

  function candidateLabel(d, chosen) {
    var label = document.createElement("label");
    label.className = "dup-candidate";
    label.appendChild(radio(String(d.id), chosen === String(d.id)));
    label.appendChild(document.createTextNode(" " + say("dup_as_duplicate", { id: d.id }) + ": "));
    var link = document.createElement("a");
    link.href = settings.complaint + "/" + d.id;
    link.target = "_blank";
    link.rel = "noopener";
    link.textContent = "#" + d.id;
    label.appendChild(link);
    var parts = [];
    if (d.distance_m !== null) parts.push(say("dup_distance", { m: Math.round(d.distance_m) }));
    if (d.same_address) parts.push(say("dup_same_address"));
    parts.push(d.reported_at_beijing, words["state_" + d.state] || d.state);
    if (d.address) parts.push(d.address);
    label.appendChild(document.createTextNode(" · " + parts.join(" · ")));
    if (d.text) {
      var text = document.createElement("span");
      text.className = "muted";
      text.textContent = d.text;
      label.appendChild(document.createTextNode(" · "));
      label.appendChild(text);
    }
    return label;
  }

  function show(candidates) {
    var chosen = (form.querySelector("input[name=duplicate_of]:checked") || {}).value || "";
    box.textContent = "";
    if (!candidates.length) {
      var none = document.createElement("p");
      none.textContent = say("dup_none");
      box.appendChild(none);
      return;
    }
    var set = document.createElement("fieldset");
    var legend = document.createElement("legend");
    legend.textContent = say("dup_choice");
    set.appendChild(legend);
    var fresh = document.createElement("label");
    fresh.className = "dup-candidate";
    var known = candidates.some(function (d) { return String(d.id) === chosen; });
    fresh.appendChild(radio("", !known));
    fresh.appendChild(document.createTextNode(" " + say("dup_as_new")));
    set.appendChild(fresh);
    candidates.forEach(function (d) { set.appendChild(candidateLabel(d, chosen)); });
    box.appendChild(set);
  }

  function look() {
    var category = field("category");
    var lon = field("lon"), lat = field("lat"), address = field("address");
    if (!category || (!(lon && lat) && !address)) return false;
    var query = new URLSearchParams({ category: category });
    if (lon && lat) {
      query.set("lon", lon);
      query.set("lat", lat);
      query.set("coordsys", field("coordsys") || "wgs84");
    }
    if (address) query.set("address", address);
    var url = settings.url + "?" + query.toString();
    if (url === asked) return true;
    asked = url;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (body && url === asked) show(body.candidates);
      })
      .catch(function () { asked = null; });
    return true;
  }

  ["category", "lon", "lat", "coordsys", "address"].forEach(function (name) {
    var el = form.elements.namedItem(name);
    if (el && el.addEventListener) el.addEventListener("change", look);
  });
  var check = document.getElementById("dup-check");
  if (check) {
    check.addEventListener("click", function (event) {
      asked = null;
      if (look()) event.preventDefault(); // else the server says what is missing
    });
  }
  look();
})();
