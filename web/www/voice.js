// The page's voice where the browser has none: espeak-ng (the command line
// program compiled to WebAssembly, npm's espeak-ng, GPL-3.0-or-later) in a
// worker. Each reply becomes a WAV (22,050 Hz, 16-bit mono); its 18 MB are
// fetched once, when the page first needs a voice, and compiled once.
import ESpeakNG from "./espeak-ng.js";

let compiled = null;

async function program() {
  if (!compiled) {
    const r = await fetch("espeak-ng.wasm");
    if (!r.ok) throw new Error(`espeak-ng.wasm: HTTP ${r.status}`);
    compiled = WebAssembly.compile(await r.arrayBuffer());
  }
  return compiled;
}

// One reply at a time, in the order asked.
let queue = Promise.resolve();
self.onmessage = (e) => {
  queue = queue.then(() => say(e.data));
};

async function say({ id, text, voice, warm }) {
  try {
    const m = await program();
    if (warm) return;
    const t0 = performance.now();
    const said = [];
    // The program runs once per reply; a module that cannot be made fails
    // the reply instead of leaving it waiting.
    let failed;
    const failure = new Promise((_, reject) => { failed = reject; });
    const espeak = await Promise.race([failure, ESpeakNG({
      // The text from a file (a reply of any length; never read as an
      // option, whatever it begins with).
      arguments: ["-v", voice || "en-us", "-w", "/reply.wav", "-f", "/reply.txt"],
      preRun: [(module) => module.FS.writeFile("/reply.txt", text)],
      instantiateWasm: (imports, done) => {
        WebAssembly.instantiate(m, imports).then(done, failed);
        return {};
      },
      print: () => {},
      printErr: (line) => said.push(line),
    })]);
    const wav = espeak.FS.readFile("/reply.wav");
    if (wav.length <= 44) throw new Error(`espeak-ng made no sound${said.length ? `: ${said.join(" ")}` : ""}`);
    self.postMessage({ id, wav, ms: performance.now() - t0 }, [wav.buffer]);
  } catch (err) {
    self.postMessage({ id, error: String(err && err.message ? err.message : err) });
  }
}
