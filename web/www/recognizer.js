// The page's recogniser: Whisper (the same code as native, compiled to
// WebAssembly) in a Web Worker, so the page and its microphone never wait on
// it. The model's files come from `model/` beside the page and are kept in
// the Cache API: after the first load they are read from there, offline.
import init, { Recognizer } from "./ainima_recognizer.js";

let recognizer = null;

async function file(cache, url, optional) {
  let r = await cache.match(url);
  if (!r) {
    r = await fetch(url);
    if (!r.ok) {
      if (optional && r.status === 404) return undefined;
      throw new Error(`${url}: HTTP ${r.status}`);
    }
    await cache.put(url, r.clone());
  }
  return new Uint8Array(await r.arrayBuffer());
}

async function load(base, endpointer) {
  const t0 = performance.now();
  await init();
  // Which model (and which version of it) the page is given; offline, the
  // last one kept.
  const indexes = await caches.open("ainima-model-index");
  let index;
  try {
    const r = await fetch(`${base}index.json`, { cache: "no-store" });
    if (!r.ok) throw new Error(`${base}index.json: HTTP ${r.status}`);
    await indexes.put(`${base}index.json`, r.clone());
    index = await r.json();
  } catch (e) {
    const kept = await indexes.match(`${base}index.json`);
    if (!kept) throw e;
    index = await kept.json();
  }
  const name = `ainima-model-${index.name}-${index.version || "unversioned"}`;
  const cache = await caches.open(name);
  const get = (f, optional) => file(cache, `${base}${f}`, optional);
  const [config, manifest, tokenizer, weights] = await Promise.all([
    get("config.json"), get("ainima.json", true), get("tokenizer.json"), get("model.safetensors"),
  ]);
  const fetched = performance.now();
  try {
    recognizer = new Recognizer(index.name, config, manifest, tokenizer, weights);
  } catch (e) {
    // Files that do not make a model are not kept: the next load fetches them again.
    await caches.delete(name);
    throw e;
  }
  if (endpointer) recognizer.setEndpointer(endpointer);
  return { name: index.name, load_ms: performance.now() - t0, fetch_ms: fetched - t0 };
}

self.onmessage = async (e) => {
  const m = e.data;
  try {
    if (m.type === "load") {
      self.postMessage({ type: "ready", ...(await load(m.base, m.endpointer)) });
    } else if (m.type === "transcribe") {
      const t0 = performance.now();
      const t = JSON.parse(recognizer.transcribe(m.samples));
      self.postMessage({ type: "text", id: m.id, ms: performance.now() - t0, ...t });
    }
  } catch (err) {
    self.postMessage({ type: "error", id: m.id, message: String(err && err.message ? err.message : err) });
  }
};
