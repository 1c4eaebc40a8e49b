// The page: the assistant (WebAssembly) on typed commands and the microphone.
// `window.ainima` is the assistant: a host page adds its tools with
// `ainima.registerTool(spec, fn)`.
import init, { Ainima } from "./ainima_web.js";

const $ = (id) => document.getElementById(id);
const offset = () => -new Date().getTimezoneOffset();
const log = (cls, text) => {
  const p = document.createElement("p");
  p.className = cls;
  p.textContent = text;
  $("log").append(p);
};

function speak(text) {
  if (!text || !("speechSynthesis" in window) || speechSynthesis.getVoices().length === 0) return;
  speechSynthesis.cancel();
  speechSynthesis.speak(new SpeechSynthesisUtterance(text));
}

function show(turn) {
  window.ainimaTurns.push(turn);
  if (turn.ring) { log("ainima", `(ring) ${turn.ring}`); speak(turn.ring); return; }
  if (turn.reply) { log("ainima", `ainima: ${turn.reply}`); speak(turn.reply); }
  for (const c of turn.calls || []) log("call", `${c.tool} ${JSON.stringify(c.args)}: ${c.status}`);
  const waiting = (turn.calls || []).some((c) => c.status === "awaiting approval") || turn.state === "confirming";
  $("approval").hidden = !waiting;
}

function hear(text, how = "you") {
  log("you", `${how}: ${text}`);
  show(JSON.parse(window.ainima.hear(text, Date.now(), offset())));
}

// Whisper in a worker: utterances go there, words come back and are heard.
let recognizer = null;
let utterances = 0;
const pending = new Map();

function startRecognizer() {
  recognizer = new Worker("recognizer.js", { type: "module" });
  recognizer.onmessage = (e) => {
    const m = e.data;
    if (m.type === "ready") {
      window.ainimaSpeech = { name: m.name, load_ms: m.load_ms, fetch_ms: m.fetch_ms };
      $("speech").textContent = `Speech model: ${m.name}.`;
    } else if (m.type === "text") {
      const ended = pending.get(m.id);
      pending.delete(m.id);
      const heard = { text: m.text, confidence: m.confidence, recognize_ms: m.ms, timings_ms: m.timings_ms };
      if (m.text.trim()) hear(m.text.trim(), "you (heard)");
      heard.end_to_reply_ms = performance.now() - ended;
      window.ainimaHeard.push(heard);
    } else if (m.type === "error") {
      if (m.id === undefined) {
        window.ainimaSpeech = { error: m.message };
        $("speech").textContent = `No speech model (${m.message}): type instead.`;
      } else {
        pending.delete(m.id);
        window.ainimaHeard.push({ error: m.message });
        log("ainima", `ainima: (I could not make that out: ${m.message})`);
      }
    }
  };
  recognizer.postMessage({ type: "load", base: "model/" });
}

function recognize() {
  for (let audio = window.ainima.nextUtterance(); audio; audio = window.ainima.nextUtterance()) {
    if (!window.ainimaSpeech || !window.ainimaSpeech.name) continue;
    const id = utterances++;
    pending.set(id, performance.now());
    recognizer.postMessage({ type: "transcribe", id, samples: audio }, [audio.buffer]);
  }
}

async function listen() {
  $("listen").disabled = true;
  // The context resamples the microphone to the front end's 16 kHz; it and
  // the capture node are ready before the microphone opens, so nothing the
  // microphone hears first is lost.
  const ctx = new AudioContext({ sampleRate: 16000 });
  await ctx.audioWorklet.addModule("worklet.js");
  const node = new AudioWorkletNode(ctx, "ainima-capture");
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false, channelCount: 1 },
  });
  node.port.onmessage = (e) => {
    for (const ev of JSON.parse(window.ainima.listen(e.data))) {
      window.ainimaSegments.push(ev);
      if (ev.end === undefined) { $("mic").textContent = "speech…"; continue; }
      $("mic").textContent = "";
      const li = document.createElement("li");
      li.textContent = `speech from ${ev.start.toFixed(2)} s to ${ev.end.toFixed(2)} s`;
      $("segments").append(li);
    }
    recognize();
  };
  ctx.createMediaStreamSource(stream).connect(node);
  $("mic").textContent = "listening";
}

async function main() {
  await init();
  window.ainimaTurns = [];
  window.ainimaSegments = [];
  window.ainimaHeard = [];
  window.ainima = new Ainima(0, undefined);
  window.Ainima = Ainima;
  // The understanding model, as native's default: what no template reads.
  const modelStart = performance.now();
  try {
    const r = await fetch("skills.nlu");
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    window.ainimaModel = new Uint8Array(await r.arrayBuffer());
    window.ainima.setModel(window.ainimaModel);
  } catch (e) {
    window.ainimaModel = null;
    console.warn(`understanding model not loaded (${e.message}): templates and rules alone`);
  }
  window.ainimaModelMs = performance.now() - modelStart;
  startRecognizer();
  for (const id of ["say", "send", "listen"]) $(id).disabled = false;
  $("form").onsubmit = (e) => {
    e.preventDefault();
    const text = $("say").value.trim();
    $("say").value = "";
    if (text) hear(text);
  };
  $("yes").onclick = () => hear("yes");
  $("no").onclick = () => hear("no");
  $("listen").onclick = () => listen().catch((e) => { $("mic").textContent = `microphone: ${e.message}`; });
  setInterval(() => { for (const t of JSON.parse(window.ainima.poll(Date.now(), offset()))) show(t); }, 1000);
  // Since the page's navigation began (what a person waits).
  window.ainimaReadyMs = performance.now();
  $("status").textContent = "Ready: type a command, or listen.";
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("sw.js").catch(() => {});
}

main().catch((e) => { $("status").textContent = `Failed to start: ${e.message}`; });
