// Offline after the first load: the app's files from the cache, refreshed
// from the network when it answers (the page's voice, espeak-ng.wasm, once it
// has been fetched).
const CACHE = "ainima-v4";
const FILES = ["./", "index.html", "app.js", "worklet.js", "recognizer.js", "ainima_web.js", "ainima_web_bg.wasm", "ainima_recognizer.js", "ainima_recognizer_bg.wasm", "manifest.webmanifest", "skills.nlu", "hey-ainima.wake", "voice.js", "espeak-ng.js", "icon-192.png", "icon-512.png"];
self.addEventListener("install", (e) => e.waitUntil(caches.open(CACHE).then((c) => c.addAll(FILES))));
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
      .catch(() => caches.match(e.request)),
  );
});
