// Offline after the first load: the app's files from the cache, refreshed
// from the network when it answers (the page's voice, espeak-ng.wasm, once it
// has been fetched).
const CACHE = "ainima-v6";
const FILES = ["./", "index.html", "app.js", "worklet.js", "recognizer.js", "ainima_web.js", "ainima_web_bg.wasm", "ainima_recognizer.js", "ainima_recognizer_bg.wasm", "manifest.webmanifest", "skills.nlu", "hey-ainima.wake", "voice.js", "espeak-ng.js", "icon-192.png", "icon-512.png"];
self.addEventListener("install", (e) => e.waitUntil(caches.open(CACHE).then((c) => c.addAll(FILES))));
// An older version's files are dropped once this one runs (offline, a page
// must never mix two versions).
self.addEventListener("activate", (e) => e.waitUntil(
  caches.keys().then((keys) => Promise.all(keys.filter((k) => k.startsWith("ainima-v") && k !== CACHE).map((k) => caches.delete(k)))),
));
self.addEventListener("fetch", (e) => {
  // The speech model is the recogniser's to keep (its own cache).
  if (e.request.method !== "GET" || new URL(e.request.url).pathname.includes("/model/")) return;
  e.respondWith(
    fetch(e.request)
      .then((r) => {
        // Only a good answer replaces what is kept.
        if (r.ok) { const copy = r.clone(); caches.open(CACHE).then((c) => c.put(e.request, copy)); }
        return r;
      })
      .catch(() => caches.open(CACHE).then((c) => c.match(e.request))),
  );
});
