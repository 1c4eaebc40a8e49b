// The page: the assistant (WebAssembly) on typed commands and the microphone.
// `window.ainima` is the assistant: a host page adds its tools with
// `ainima.registerTool(spec, fn)`.
import init, { Ainima } from "./ainima_web.js";

const $ = (id) => document.getElementById(id);
// `?echo=browser`: the browser's own echo canceller instead of ours (to
// compare them; BENCHMARKS.md).
const browserEcho = new URLSearchParams(location.search).get("echo") === "browser";
const offset = () => -new Date().getTimezoneOffset();
const log = (cls, text) => {
  const p = document.createElement("p");
  p.className = cls;
  p.textContent = text;
  $("log").append(p);
};

// When a voice our canceller does not hear last spoke (performance.now(),
// ms): the browser's, or the page's own played outside the capture node
// (before the microphone was opened). An utterance said while it spoke may
// be that voice heard back, and the page cannot tell.
let spokeUntil = -Infinity;
// While the microphone is open: the capture node, which also plays the
// page's own voice so that our canceller has it ({node, ctx}); replies
// queued or playing there (id -> {text, watchdog}).
let duplex = null;
const duplexPlaying = new Map();
// A reply paused because someone began talking over it, until what they
// said decides: a cough, a backchannel or the page's own voice resumes it,
// a stop or a request drops it (the native session's turn-taking).
// {barge: its entry in window.ainimaBargeIns, outstanding: utterances begun
// since that have not decided yet, deadline: a timer}.
let yielded = null;
// Longest a reply stays paused with nothing decided (the recogniser still
// loading, someone talking on and on): then it is dropped, as stale.
const YIELD_MS = 20000;
// The pause (`yielded`) the utterance under way began in, or null.
let utteranceYielded = null;
// The page's own voice (voice.js), where the browser has none: replies
// waiting for their sound (id -> text), and the one playing (with a
// watchdog: a sound that never ends stops counting as speech after its
// length and a second).
let voice = null;
let voiceIds = 0;
const voicing = new Map();
let playing = null;
let watchdog = null;
let output = null;
const browserSpeaking = () => "speechSynthesis" in window && speechSynthesis.speaking;
// A voice is audible that our canceller does not hear.
const unheardVoice = () => browserSpeaking() || playing !== null;
const speaking = () => browserSpeaking() || playing !== null || voicing.size > 0 || duplexPlaying.size > 0;
const browserVoices = () => "speechSynthesis" in window && speechSynthesis.getVoices().length > 0;

// The page is silent again (or never managed to speak): until when it spoke,
// and the follow-up window of a question it asked starts now.
function spoken() {
  if (speaking()) return;
  window.ainima.spoke();
}

// While the microphone is open the page speaks in its own voice, whatever
// the browser has: our canceller needs what is played to hear a person
// talking over it.
function speak(text) {
  if (!text) return;
  if (!browserVoices() || duplex) {
    ownVoice(text);
    return;
  }
  speechSynthesis.cancel();
  const u = new SpeechSynthesisUtterance(text);
  u.onend = u.onerror = () => { spokeUntil = performance.now(); spoken(); };
  spokeUntil = Infinity;
  speechSynthesis.speak(u);
}

function voiceWorker() {
  if (voice) return voice;
  voice = new Worker("voice.js", { type: "module" });
  voice.onmessage = (e) => play(e.data);
  // The worker could not run: nothing waiting will be said.
  voice.onerror = (e) => {
    console.warn(`the page's voice: ${e.message || "the worker failed"}`);
    for (const text of voicing.values()) window.ainimaSpoken.push({ text, error: "no voice" });
    voicing.clear();
    voice = null;
    spoken();
  };
  return voice;
}

// espeak-ng in a worker; the newest reply interrupts the one playing.
function ownVoice(text) {
  const id = voiceIds++;
  voicing.set(id, text);
  voiceWorker().postMessage({ id, text });
}

function keep(entry) {
  // The last few kept for whoever inspects the page (tests/web.rs).
  window.ainimaSpoken.push(entry);
  if (window.ainimaSpoken.length > 8) window.ainimaSpoken.shift();
}

async function play(m) {
  const text = voicing.get(m.id);
  voicing.delete(m.id);
  try {
    if (m.error) throw new Error(m.error);
    keep({ text, by: "espeak-ng", synth_ms: m.ms, wav: m.wav.slice() });
    if (duplex) return await playDuplex(text, m.wav);
    output = output || new AudioContext();
    await output.resume();
    const sound = await output.decodeAudioData(m.wav.buffer);
    stopPlaying();
    const source = output.createBufferSource();
    source.buffer = sound;
    source.connect(output.destination);
    source.onended = () => { if (playing === source) stopPlaying(); spoken(); };
    playing = source;
    spokeUntil = Infinity;
    watchdog = setTimeout(() => { if (playing === source) stopPlaying(); spoken(); }, sound.duration * 1000 + 1000);
    source.start();
  } catch (err) {
    if (m.error) keep({ text, error: m.error });
    console.warn(`the page's voice: ${err.message}`);
    spoken();
  }
}

// Through the capture node (the microphone's context, 16 kHz): heard back
// with what was played beside it. The newest reply replaces the one playing.
async function playDuplex(text, wav) {
  const sound = await duplex.ctx.decodeAudioData(wav.buffer);
  const samples = sound.getChannelData(0);
  const id = voiceIds++;
  window.ainima.saying(text);
  if (duplexPlaying.size) duplex.node.port.postMessage({ stop: "replaced" });
  // What was paused is gone: what was said over it no longer decides.
  if (yielded) {
    clearTimeout(yielded.deadline);
    yielded = null;
    window.ainima.yieldDecided();
  }
  duplexPlaying.set(id, { text, watchdog: null });
  armWatchdog(id, sound.duration * 1000);
  duplex.node.port.postMessage({ play: samples, id }, [samples.buffer]);
}

// A sound that never ends (the context stopped) stops counting as speech a
// second after it should have ended, and is stopped.
function armWatchdog(id, ms) {
  const p = duplexPlaying.get(id);
  if (!p) return;
  clearTimeout(p.watchdog);
  p.watchdog = setTimeout(() => {
    duplexPlaying.delete(id);
    duplex.node.port.postMessage({ stop: "watchdog" });
    spoken();
  }, ms + 1000);
}

// What was said over a paused reply has decided: "resume" or "drop".
function decide(what, kind) {
  if (!yielded) return;
  const b = yielded.barge;
  clearTimeout(yielded.deadline);
  yielded = null;
  b.decided = what;
  b.kind = kind;
  window.ainima.yieldDecided();
  if (what === "drop") log("ainima", "ainima: (interrupted)");
  duplex.node.port.postMessage(what === "resume" ? { resume: true } : { stop: "barge_in" });
}

// Whether the pause `y` (an utterance's) is the one still undecided.
const stillPaused = (y) => y !== null && y !== undefined && y === yielded;

// One utterance begun while the reply was paused is over: a drop decides
// at once; going on waits for every such utterance (the words after a
// cough may still be a request).
function settle(what, kind) {
  if (!yielded) return;
  yielded.outstanding = Math.max(0, yielded.outstanding - 1);
  if (what === "drop" || yielded.outstanding === 0) decide(what, kind);
}

// What the capture node says about the page's voice.
function duplexPlayed(m) {
  if (m.started !== undefined) {
    window.ainimaPlaying.push({ id: m.started, at: m.at / 16000 });
    return;
  }
  if (m.paused !== undefined) {
    // Silent: when, in the microphone's time. Nothing plays while paused,
    // so nothing may time out.
    const b = window.ainimaBargeIns[window.ainimaBargeIns.length - 1];
    if (b && b.silent_at === undefined) b.silent_at = m.at / 16000;
    for (const id of m.paused) clearTimeout((duplexPlaying.get(id) || {}).watchdog);
    return;
  }
  if (m.resumed !== undefined) {
    const b = window.ainimaBargeIns[window.ainimaBargeIns.length - 1];
    if (b) b.resumed_at = m.at / 16000;
    for (const id of m.resumed) armWatchdog(id, (m.left / 16000) * 1000);
    log("ainima", "ainima: (goes on)");
    return;
  }
  const done = m.ended !== undefined ? [m.ended] : m.stopped;
  for (const id of done) {
    const p = duplexPlaying.get(id);
    if (p) clearTimeout(p.watchdog);
    duplexPlaying.delete(id);
    // Said to its end, or stopped (and why).
    const e = window.ainimaPlaying.find((q) => q.id === id);
    if (e && m.ended !== undefined) e.ended_at = m.at / 16000;
    else if (e) e.stopped = m.why;
  }
  if (m.why === "barge_in") {
    // Said over: what was paused is dropped.
    const b = window.ainimaBargeIns[window.ainimaBargeIns.length - 1];
    if (b && b.dropped === undefined) {
      if (b.silent_at === undefined) b.silent_at = m.at / 16000;
      b.dropped = done.length;
    }
    // Cut short, its question was never heard whole: no follow-up window
    // opens (natively, only a reply said to its end opens one), or a
    // "stop" over "Shall I send it?" would let anyone's "yes" through
    // without the wake word.
    return;
  }
  spoken();
}

function stopPlaying() {
  clearTimeout(watchdog);
  if (playing) {
    try { playing.stop(); } catch (_) { /* never started */ }
    spokeUntil = performance.now();
  }
  playing = null;
}

// Where the browser has no voices, the page's own is made ready early (its
// program fetched and compiled), so the first reply is not late.
function warmVoice() {
  const warm = () => { if (!browserVoices()) voiceWorker().postMessage({ warm: true }); };
  if (!("speechSynthesis" in window)) return warm();
  // Voices may arrive a moment after load.
  setTimeout(warm, 1000);
}

function show(turn) {
  window.ainimaTurns.push(turn);
  if (turn.ring) { log("ainima", `(ring) ${turn.ring}`); speak(turn.ring); return; }
  if (turn.reply) { log("ainima", `ainima: ${turn.reply}`); speak(turn.reply); }
  for (const c of turn.calls || []) log("call", `${c.tool} ${JSON.stringify(c.args)}: ${c.status}`);
  // Only a turn of the conversation settles whether a question is open.
  if (turn.state !== undefined) {
    const waiting = (turn.calls || []).some((c) => c.status === "awaiting approval") || turn.state === "confirming";
    $("approval").hidden = !waiting;
  }
}

function hear(text) {
  log("you", `you: ${text}`);
  show(JSON.parse(window.ainima.hear(text, Date.now(), offset())));
}

// Words heard: the user's, unless they may be the page's own voice heard
// back (the assistant decides: a turn with no source is its own voice).
// `yielded`: the page's reply was paused when they began, and what they
// said decides whether it goes on.
function hearSpoken(text, overOwnVoice, cancelled, yielded) {
  const turn = JSON.parse(window.ainima.hearSpoken(text, Date.now(), offset(), overOwnVoice, cancelled, yielded));
  const own = turn.own_voice === true;
  const what = own ? ", the page's own voice: ignored"
    : turn.kind === "noise" || turn.kind === "backchannel" ? `, a ${turn.kind}: go on`
    : overOwnVoice ? ", over the page's voice" : "";
  log("you", `you (heard${what}): ${text}`);
  // Before the answer's own reply is queued.
  if (turn.barge_in) settle(turn.barge_in, turn.kind);
  // A paused reply's resumption or drop is no turn.
  if (!turn.barge_in || turn.kind === "request") show(turn);
}

// Whisper in a worker: utterances go there, words come back and are heard.
let recognizer = null;
let utterances = 0;
// Sent to the recogniser: id -> {ended (ms), overOwnVoice, cancelled (our
// canceller heard the voice it was said over), yielded (said while the
// page's reply was paused)}.
const pending = new Map();
// Heard before the recogniser was ready: sent once it is.
const waiting = [];
// Where the current utterance began (ms), and whether the page spoke since.
let speechBegan = null;

function startRecognizer() {
  recognizer = new Worker("recognizer.js", { type: "module" });
  recognizer.onmessage = (e) => {
    const m = e.data;
    if (m.type === "ready") {
      window.ainimaSpeech = { name: m.name, load_ms: m.load_ms, fetch_ms: m.fetch_ms };
      $("speech").textContent = `Speech model: ${m.name}.`;
      while (waiting.length) send(...waiting.shift());
    } else if (m.type === "text") {
      const sent = pending.get(m.id);
      if (!sent) return;
      pending.delete(m.id);
      const heard = { text: m.text, confidence: m.confidence, recognize_ms: m.ms, timings_ms: m.timings_ms };
      heard.over_own_voice = sent.overOwnVoice;
      // Still paused for it (not decided by other words meanwhile).
      const yielding = stillPaused(sent.yielded);
      if (m.text.trim()) hearSpoken(m.text.trim(), sent.overOwnVoice, sent.cancelled, yielding);
      else if (yielding) settle("resume", "noise");
      heard.end_to_reply_ms = performance.now() - sent.ended;
      window.ainimaHeard.push(heard);
    } else if (m.type === "error") {
      if (m.id === undefined) {
        window.ainimaSpeech = { error: m.message };
        $("speech").textContent = `No speech model (${m.message}): type instead.`;
        if (waiting.length) log("ainima", "ainima: (I could not listen: there is no speech model)");
        // Nothing will be heard: what was paused goes on.
        for (const [, sent] of waiting) if (stillPaused(sent.yielded)) settle("resume", "noise");
        waiting.length = 0;
      } else {
        const sent = pending.get(m.id);
        pending.delete(m.id);
        // Nothing to go by: what was paused goes on.
        if (sent && stillPaused(sent.yielded)) settle("resume", "noise");
        window.ainimaHeard.push({ error: m.message });
        log("ainima", `ainima: (I could not make that out: ${m.message})`);
      }
    }
  };
  recognizer.postMessage({ type: "load", base: "model/" });
}

function send(audio, sent) {
  const id = utterances++;
  pending.set(id, sent);
  recognizer.postMessage({ type: "transcribe", id, samples: audio }, [audio.buffer]);
}

// The utterance that just ended, to the recogniser.
function recognize(overOwnVoice, cancelled, paused) {
  const audio = window.ainima.nextUtterance();
  // Nothing to recognise, or nothing to recognise it with: what was paused
  // goes on.
  const deaf = window.ainimaSpeech && !window.ainimaSpeech.name;
  if (stillPaused(paused) && (!audio || deaf)) settle("resume", "noise");
  if (audio) {
    const sent = { ended: performance.now(), overOwnVoice, cancelled, yielded: paused };
    if (window.ainimaSpeech && window.ainimaSpeech.name) {
      send(audio, sent);
    } else if (!window.ainimaSpeech) {
      // Still loading: kept, and said so.
      waiting.push([audio, sent]);
      $("speech").textContent = "Still loading the speech model: what you said will be heard once it is ready.";
    }
  }
}

async function listen() {
  $("listen").disabled = true;
  // From now on the page speaks through the capture node; a reply still
  // playing elsewhere is cut (our canceller would not hear it).
  stopPlaying();
  window.ainima.setCanceller(!browserEcho);
  // The context resamples the microphone to the front end's 16 kHz; it and
  // the capture node are ready before the microphone opens, so nothing the
  // microphone hears first is lost.
  const ctx = new AudioContext({ sampleRate: 16000 });
  let stream;
  try {
    await ctx.audioWorklet.addModule("worklet.js");
    stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: browserEcho, noiseSuppression: false, autoGainControl: false, channelCount: 1 },
    });
  } catch (e) {
    ctx.close();
    throw e;
  }
  // One node hears the microphone and plays the page's voice, in the same
  // render quantum: what it played reaches our canceller beside what was
  // heard then.
  const node = new AudioWorkletNode(ctx, "ainima-duplex", { numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1] });
  node.connect(ctx.destination);
  duplex = { node, ctx };
  // Replies are said in the page's own voice from now: made ready.
  voiceWorker().postMessage({ warm: true });
  node.port.onmessage = (e) => {
    const m = e.data;
    if (!m.mic) return duplexPlayed(m);
    window.ainimaMicSamples += m.mic.length;
    // Kept only when asked for (window.ainimaRecord, set by whoever drives
    // the page): what was heard beside what was played, to study the
    // canceller on a real room's recording.
    const rec = window.ainimaRecord;
    if (rec) rec.push([m.mic, m.played || null]);
    for (const ev of JSON.parse(window.ainima.listen(m.mic, m.played || new Float32Array(0)))) {
      if (ev.wake !== undefined) {
        window.ainimaWakes.push(ev);
        $("mic").textContent = "yes?";
        continue;
      }
      if (ev.rejected !== undefined) {
        // Too short to be speech: a paused reply goes on.
        speechBegan = null;
        $("mic").textContent = listening();
        if (stillPaused(utteranceYielded)) settle("resume", "noise");
        utteranceYielded = null;
        continue;
      }
      window.ainimaSegments.push(ev);
      if (ev.end === undefined) {
        speechBegan = performance.now();
        $("mic").textContent = "speech…";
        // Talked over: the page falls silent at once (what it had queued
        // is kept until what is said decides), and listens.
        if (ev.barge_in && duplexPlaying.size && !yielded) {
          const barge = { start: ev.start, heard_at: performance.now() };
          window.ainimaBargeIns.push(barge);
          const deadline = setTimeout(() => decide("drop", "stale"), YIELD_MS);
          yielded = { barge, outstanding: 0, deadline };
          node.port.postMessage({ pause: true });
          // Obeyed: what follows is the person, not the echo.
          window.ainima.bargedIn();
        }
        utteranceYielded = yielded;
        if (yielded) yielded.outstanding++;
        continue;
      }
      // Said over the page's voice: ours went through the canceller (the
      // front end says so); one it does not hear cannot be told apart.
      const unheard = unheardVoice() || (speechBegan !== null && spokeUntil >= speechBegan);
      const overOwnVoice = unheard || ev.over_own_voice === true;
      const wasYielded = stillPaused(utteranceYielded) ? yielded : null;
      utteranceYielded = null;
      speechBegan = null;
      $("mic").textContent = "";
      const li = document.createElement("li");
      const why = ev.ignored ? " (not said to me: no wake word)" : ev.alone ? " (the wake word: go on)" : "";
      li.textContent = `speech from ${ev.start.toFixed(2)} s to ${ev.end.toFixed(2)} s${why}`;
      $("segments").append(li);
      if (!ev.ignored && !ev.alone) {
        $("mic").textContent = listening();
        recognize(overOwnVoice, !unheard, wasYielded);
      } else if (wasYielded !== null) {
        // Not said to the page: it goes on; the wake word alone: it stops
        // and listens.
        settle(ev.ignored ? "resume" : "drop", ev.ignored ? "noise" : "wake");
      }
    }
  };
  ctx.createMediaStreamSource(stream).connect(node);
  $("wake").disabled = true;
  $("mic").textContent = listening();
}

// What the microphone waits for.
function listening() {
  const phrase = window.ainima.wakePhrase();
  return phrase ? `listening for “${phrase}”` : "listening";
}

// A file beside the page, as bytes.
async function bytes(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

// The wake word: the built-in model, unless the person chose to be heard
// always (or it did not load).
async function loadWake() {
  try {
    window.ainimaWakeModel = await bytes("hey-ainima.wake");
    window.ainima.setWake(window.ainimaWakeModel);
  } catch (e) {
    window.ainimaWakeModel = null;
    $("wake").checked = false;
    $("wake").disabled = true;
    console.warn(`wake word model not loaded (${e.message}): everything heard is for the assistant`);
  }
  $("wake").onchange = () => window.ainima.setWake($("wake").checked ? window.ainimaWakeModel : undefined);
}

async function main() {
  await init();
  window.ainimaTurns = [];
  window.ainimaSegments = [];
  window.ainimaHeard = [];
  window.ainimaWakes = [];
  window.ainimaSpoken = [];
  window.ainimaPlaying = [];
  window.ainimaBargeIns = [];
  window.ainimaMicSamples = 0;
  window.ainima = new Ainima(0, undefined);
  window.Ainima = Ainima;
  window.ainimaSpeaking = speaking;
  // The understanding model, as native's default: what no template reads.
  const modelStart = performance.now();
  try {
    window.ainimaModel = await bytes("skills.nlu");
    window.ainima.setModel(window.ainimaModel);
  } catch (e) {
    window.ainimaModel = null;
    console.warn(`understanding model not loaded (${e.message}): templates and rules alone`);
  }
  window.ainimaModelMs = performance.now() - modelStart;
  await loadWake();
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
  $("listen").onclick = () => listen().catch((e) => {
    $("mic").textContent = `microphone: ${e.message}`;
    $("listen").disabled = false;
  });
  setInterval(() => { for (const t of JSON.parse(window.ainima.poll(Date.now(), offset()))) show(t); }, 1000);
  // Since the page's navigation began (what a person waits).
  window.ainimaReadyMs = performance.now();
  $("status").textContent = "Ready: type a command, or listen.";
  warmVoice();
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("sw.js").catch(() => {});
}

main().catch((e) => { $("status").textContent = `Failed to start: ${e.message}`; });
