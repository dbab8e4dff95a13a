// The patrol page's service worker: the page and its files open without a connection.
// API calls are never cached: reports wait in IndexedDB (field.js), not here.
const CACHE = "redgrid-field-{{ version }}";
const SHELL = {{ shell|tojson }};
self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});
self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith("redgrid-field-") && n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim())
  );
});
self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || !SHELL.includes(url.pathname)) return;
  // the page: fresh when online (a new CSRF token), the kept copy when not; files: kept copy first
  if (request.mode === "navigate") {
    event.respondWith(
      fetch(request)
        .then((response) => {
          if (response.ok) { const copy = response.clone(); caches.open(CACHE).then((c) => c.put(url.pathname, copy)); }
          return response;
        })
        .catch(() => caches.match(url.pathname))
    );
  } else {
    event.respondWith(caches.match(url.pathname).then((hit) => hit || fetch(request)));
  }
});
