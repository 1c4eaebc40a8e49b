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

function hear(text) {
  log("you", `you: ${text}`);
  show(JSON.parse(window.ainima.hear(text, Date.now(), offset())));
}

async function listen() {
  $("listen").disabled = true;
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false, channelCount: 1 },
  });
  // The context resamples the microphone to the front end's 16 kHz.
  const ctx = new AudioContext({ sampleRate: 16000 });
  await ctx.audioWorklet.addModule("worklet.js");
  const node = new AudioWorkletNode(ctx, "ainima-capture");
  node.port.onmessage = (e) => {
    for (const ev of JSON.parse(window.ainima.listen(e.data))) {
      window.ainimaSegments.push(ev);
      if (ev.end === undefined) { $("mic").textContent = "speech…"; continue; }
      $("mic").textContent = "";
      const li = document.createElement("li");
      li.textContent = `speech from ${ev.start.toFixed(2)} s to ${ev.end.toFixed(2)} s`;
      $("segments").append(li);
    }
  };
  ctx.createMediaStreamSource(stream).connect(node);
  $("mic").textContent = "listening";
}

async function main() {
  const started = performance.now();
  await init();
  window.ainimaTurns = [];
  window.ainimaSegments = [];
  window.ainima = new Ainima(0, undefined);
  window.Ainima = Ainima;
  // The understanding model, as native's default: what no template reads.
  try {
    const r = await fetch("skills.nlu");
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    window.ainimaModel = new Uint8Array(await r.arrayBuffer());
    window.ainima.setModel(window.ainimaModel);
  } catch (e) {
    window.ainimaModel = null;
    console.warn(`understanding model not loaded (${e.message}): templates and rules alone`);
  }
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
  window.ainimaReadyMs = performance.now() - started;
  $("status").textContent = "Ready: type a command, or listen.";
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("sw.js").catch(() => {});
}

main().catch((e) => { $("status").textContent = `Failed to start: ${e.message}`; });
