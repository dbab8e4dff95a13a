// 巡查上报: reports are kept on the phone (IndexedDB) and sent when there is a connection.
// Each report carries an id made here; the server files one case per id (see webmap/pages/field.py).
(function () {
  "use strict";
  var status = document.getElementById("field-status");
  var S = JSON.parse(document.getElementById("field-strings").textContent);
  var form = document.getElementById("patrol-form");
  var place = document.getElementById("field-location");
  var outboxList = document.getElementById("field-outbox");
  var sentList = document.getElementById("field-sent");
  var cfg = status.dataset;
  var here = null; // {lon, lat, accuracy}
  var sending = false;
  var csrf = null;
  var trouble = null; // why the last round of sending stopped, shown until the next one

  function say(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, k) { return values && k in values ? values[k] : ""; });
  }

  // --- the phone's store --------------------------------------------------------------------
  function db() {
    return new Promise(function (resolve, reject) {
      var open = indexedDB.open("redgrid-field", 1);
      open.onupgradeneeded = function () {
        open.result.createObjectStore("outbox", { keyPath: "id" });
        open.result.createObjectStore("sent", { keyPath: "id" });
      };
      open.onsuccess = function () { resolve(open.result); };
      open.onerror = function () { reject(open.error); };
    });
  }
  function tx(store, mode, work) {
    return db().then(function (conn) {
      return new Promise(function (resolve, reject) {
        var t = conn.transaction(store, mode);
        var result = work(t.objectStore(store));
        t.oncomplete = function () { resolve(result && "result" in result ? result.result : undefined); };
        t.onerror = function () { reject(t.error); };
      });
    });
  }
  var all = function (store) { return tx(store, "readonly", function (s) { return s.getAll(); }); };
  var put = function (store, item) { return tx(store, "readwrite", function (s) { s.put(item); }); };
  var drop = function (store, id) { return tx(store, "readwrite", function (s) { s.delete(id); }); };

  // --- what the page shows ------------------------------------------------------------------
  function item(text, cls) {
    var li = document.createElement("li");
    li.textContent = text;
    if (cls) li.className = cls;
    return li;
  }
  function render() {
    return Promise.all([all("outbox"), all("sent")]).then(function (lists) {
      var pending = lists[0], sent = lists[1];
      outboxList.replaceChildren.apply(outboxList, pending.map(function (r) {
        var li = item(r.label + (r.error ? " — " + r.error : ""), r.error ? "failed" : "pending");
        if (r.error) {
          var discard = document.createElement("button");
          discard.type = "button";
          discard.textContent = S.field_discard;
          discard.addEventListener("click", function () { drop("outbox", r.id).then(render); });
          li.append(" ", discard);
        }
        return li;
      }));
      sent.sort(function (a, b) { return b.at.localeCompare(a.at); });
      sentList.replaceChildren.apply(sentList, sent.slice(0, 20).map(function (r) {
        return item(say(S.field_sent_case, { id: r.caseId }) + " · " + r.label, "sent");
      }));
      var online = navigator.onLine ? S.field_online : S.field_offline;
      status.textContent = online + " · " + say(S.field_pending, { n: pending.length }) + (trouble ? " · " + trouble : "");
      status.dataset.pending = String(pending.length);
    });
  }

  // --- sending ------------------------------------------------------------------------------
  function post(url, body, json) {
    var headers = { "X-CSRFToken": csrf, "Accept": "application/json" };
    if (json) headers["Content-Type"] = "application/json";
    return fetch(url, { method: "POST", credentials: "same-origin", headers: headers, body: body });
  }
  function problem(response) {
    return response.json().then(function (b) { return b.detail || (b.error && b.error.message) || response.statusText; },
                                function () { return response.statusText; });
  }
  function sendOne(r) {
    var filed = r.caseId ? Promise.resolve(r.caseId) : post(cfg.file, JSON.stringify(r.complaint), true).then(function (res) {
      if (res.status === 200 || res.status === 201) return res.json().then(function (b) { return b.id; });
      if (res.status >= 400 && res.status < 500 && res.status !== 429) {
        return problem(res).then(function (m) { throw { retry: false, message: m }; });
      }
      throw { retry: true };
    });
    return filed.then(function (caseId) {
      r.caseId = caseId;
      return put("outbox", r).then(function () { return sendPhotos(r); });
    }).then(function () {
      return put("sent", { id: r.id, caseId: r.caseId, label: r.label, at: new Date().toISOString() });
    }).then(function () { return drop("outbox", r.id); });
  }
  function sendPhotos(r) {
    // one at a time, each remembered once sent; the server keeps one copy of an image per case
    var next = (r.photos || []).findIndex(function (p) { return !p.sent; });
    if (next < 0) return Promise.resolve();
    var photo = r.photos[next];
    var body = new FormData();
    body.append("photo", photo.blob, photo.name);
    body.append("kind", "before");
    return post(cfg.file + "/" + r.caseId + "/photos", body, false).then(function (res) {
      if (res.status === 201 || res.status === 200) {
        photo.sent = true;
      } else if (res.status >= 400 && res.status < 500 && res.status !== 429) {
        photo.sent = true; // refused (type, size): the case stands without it
        r.photoErrors = (r.photoErrors || 0) + 1;
      } else {
        throw { retry: true };
      }
      return put("outbox", r).then(function () { return sendPhotos(r); });
    });
  }
  function sync() {
    if (sending || !navigator.onLine) return render();
    sending = true;
    trouble = null;
    // signed in still? (a page kept open offline can outlive its session) and a fresh token
    return fetch(cfg.session, { credentials: "same-origin", headers: { Accept: "application/json" }, redirect: "manual" })
      .then(function (res) {
        if (!res.ok) throw { retry: true, message: S.field_login_again };
        return res.json();
      }).then(function (session) {
        csrf = session.csrf;
        return all("outbox");
      }).then(function (pending) {
      var chain = Promise.resolve();
      pending.filter(function (r) { return !r.error; }).forEach(function (r) {
        chain = chain.then(function () {
          return sendOne(r).catch(function (e) {
            if (e && e.retry === false) { r.error = e.message; return put("outbox", r); }
            throw e; // network or server trouble: stop, try again later
          });
        });
      });
      return chain;
    }).catch(function (e) { trouble = e && e.message ? e.message : null; })
      .then(function () { sending = false; return render(); });
  }

  // --- the form -----------------------------------------------------------------------------
  document.getElementById("field-locate").addEventListener("click", function () {
    if (!navigator.geolocation) { place.textContent = S.field_locate_failed; return; }
    place.textContent = S.field_locating;
    navigator.geolocation.getCurrentPosition(function (pos) {
      here = { lon: pos.coords.longitude, lat: pos.coords.latitude, accuracy: pos.coords.accuracy };
      place.textContent = say(S.field_located, { lon: here.lon.toFixed(6), lat: here.lat.toFixed(6), m: Math.round(here.accuracy) });
      if (!navigator.onLine) return;
      fetch(cfg.point.replace("LONLAT", here.lon + "," + here.lat), { headers: { Accept: "application/json" } })
        .then(function (res) { return res.ok ? res.json() : null; })
        .then(function (a) {
          if (!a) return;
          place.textContent += " · " + (a.grid ? say(S.field_in_grid, { grid: a.grid.name || a.grid.code, community: a.grid.community ? a.grid.community.name : "" }) : S.field_outside);
        }).catch(function () {});
    }, function () { place.textContent = S.field_locate_failed; }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 30000 });
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = form.elements.text.value.trim();
    var address = form.elements.address.value.trim();
    if (!text) { form.elements.text.focus(); return; }
    if (!here && !address) { place.textContent = S.field_need_location; return; }
    var id = (self.crypto && crypto.randomUUID) ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2);
    var category = form.elements.category;
    var complaint = {
      external_id: "field-" + id, channel: "patrol", category: category.value, text: text,
      reported_at: new Date().toISOString(),
    };
    if (here) { complaint.lon = here.lon; complaint.lat = here.lat; complaint.coordsys = "wgs84"; }
    if (address) complaint.address = address;
    var photos = Array.prototype.map.call(form.elements.photos.files, function (f) { return { name: f.name, blob: f, sent: false }; });
    var label = category.options[category.selectedIndex].text + " · " + text.slice(0, 30);
    put("outbox", { id: id, complaint: complaint, photos: photos, label: label, made: complaint.reported_at })
      .then(function () {
        form.reset();
        here = null;
        place.textContent = S.field_saved;
        return sync();
      });
  });

  window.addEventListener("online", sync);
  window.addEventListener("offline", render);
  setInterval(sync, 30000);
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(cfg.sw, { scope: cfg.scope }).catch(function () {});
  }
  sync();
})();
