// Drives the browser app in Debian's headless chromium (playwright-core; no
// browser download) as a person would, and prints what the page did as one
// JSON object. Usage: node drive.cjs PLAN.json (NODE_PATH: node_modules
// holding playwright-core). The plan: {url, mic (a WAV, fed as the
// microphone), mic_seconds, mic_segments (utterances to wait for),
// mic_heard (of them recognised; all by default), mic_always (no wake
// word), typed: [lines], spoken (replies to wait for in the page's own
// voice, their sound written into spoken_dir), files: [audio
// files], endpointer (TOML), page_tool: {skills, said: [lines]}, ready_runs,
// offline: {server_pid, typed: [lines], speech}, installable, room}: every
// part but url is optional. ready_runs loads the page that many times more
// and gives each time to ready (BENCHMARKS.md); offline stops the server and
// loads the page again. room: {typed, interrupt (a WAV or null), after_ms,
// sink, seconds, record (a path prefix: what the page heard and played,
// written to PREFIX-mic.wav and PREFIX-played.wav)}: the browser on the sound server the environment names
// (PULSE_SERVER), whose microphone hears its speaker (a room with no fake
// devices); the line is typed with the microphone open, and `after_ms` into
// the page's spoken reply the interruption is played into the room's sink
// by paplay.
const fs = require("fs");
const os = require("os");
const path = require("path");
const { chromium } = require("playwright-core");

async function main() {
  const plan = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  // A profile of its own, as a person's browser has (not an incognito
  // context: a page there cannot be installed), removed afterwards.
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "ainima-chromium-"));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.AINIMA_CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync",
      "--use-fake-ui-for-media-stream",
      // In a room: the sound server's devices; otherwise fakes.
      ...(plan.room ? [] : ["--use-fake-device-for-media-stream"]),
      ...(plan.mic ? [`--use-file-for-fake-audio-capture=${plan.mic}%noloop`] : []),
      "--autoplay-policy=no-user-gesture-required",
    ],
    // In a room the page is heard (playwright mutes headless browsers).
    ...(plan.room ? { ignoreDefaultArgs: ["--mute-audio"] } : {}),
  });
  const out = { console: [] };
  try {
    const page = browser.pages()[0] || (await browser.newPage());
    page.on("console", (m) => out.console.push(`${m.type()}: ${m.text()}`));
    page.on("pageerror", (e) => out.console.push(`pageerror: ${e.message}`));
    const t0 = Date.now();
    await page.goto(plan.url);
    await page.waitForFunction(() => window.ainimaReadyMs !== undefined, null, { timeout: 60000 });
    out.load_ms = Date.now() - t0;
    out.ready_ms = await page.evaluate(() => window.ainimaReadyMs);
    out.model_ms = await page.evaluate(() => window.ainimaModelMs);
    if (plan.ready_runs) {
      out.ready_runs = [];
      for (let i = 0; i < plan.ready_runs; i++) {
        await page.reload();
        await page.waitForFunction(() => window.ainimaReadyMs !== undefined, null, { timeout: 60000 });
        out.ready_runs.push(await page.evaluate(() => ({ ready_ms: window.ainimaReadyMs, model_ms: window.ainimaModelMs })));
      }
    }
    out.status = await page.textContent("#status");
    // What chromium says stands between the page and being installed
    // (nothing, once the service worker runs).
    if (plan.installable) {
      await serviceWorker(page);
      const cdp = await page.context().newCDPSession(page);
      out.installability = (await cdp.send("Page.getInstallabilityErrors")).installabilityErrors;
      out.manifest_icons = (await cdp.send("Page.getAppManifest")).errors;
    }
    out.model_loaded = await page.evaluate(() => window.ainimaModel !== null);

    if (plan.typed) await typed(page, plan, out);
    if (plan.files) await files(page, plan, out);
    if (plan.page_tool) out.page_tool = await page.evaluate(pageTool, plan.page_tool);
    if (plan.mic) await microphone(page, plan, out);
    if (plan.offline) await offline(page, plan, out);
    if (plan.room) await room(page, plan, out);
  } catch (e) {
    // What the page said before it failed, with the failure.
    out.error = e.stack || String(e);
  } finally {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify(out));
  if (out.error) process.exit(1);
}

// Typed, as a person types: the box, then Enter.
async function typed(page, plan, out) {
  for (const line of plan.typed) {
    await page.fill("#say", line);
    await page.press("#say", "Enter");
  }
  out.turns = await page.evaluate(() => window.ainimaTurns);
  out.log = await page.$$eval("#log p", (ps) => ps.map((p) => p.textContent));
  // What the page said in its own voice: that many replies, each with its
  // sound (a WAV, base64).
  if (plan.spoken) {
    await page.waitForFunction((n) => window.ainimaSpoken.length >= n, plan.spoken, { timeout: 120000 });
    out.voices = await page.evaluate(() => ("speechSynthesis" in window ? speechSynthesis.getVoices().length : 0));
    out.spoken = await page.evaluate(() => window.ainimaSpoken.map((s) => ({
      text: s.text, by: s.by, error: s.error, synth_ms: s.synth_ms,
      wav: s.wav ? btoa(Array.from(s.wav, (b) => String.fromCharCode(b)).join("")) : undefined,
    })));
    // The sounds as files in plan.spoken_dir.
    out.spoken.forEach((s, i) => {
      if (!s.wav) return;
      s.file = `${plan.spoken_dir}/spoken-${i}.wav`;
      fs.writeFileSync(s.file, Buffer.from(s.wav, "base64"));
      delete s.wav;
    });
  }
}

// Audio files through the page's front end, and one that is not audio.
async function files(page, plan, out) {
  out.file_segments = await page.evaluate(({ files, endpointer }) => {
    const a = new window.Ainima(0, undefined);
    a.setEndpointer(endpointer);
    return files.map((b64) => JSON.parse(a.segments(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)))));
  }, { files: plan.files.map((f) => fs.readFileSync(f).toString("base64")), endpointer: plan.endpointer });
  out.bad_audio = await page.evaluate(() => {
    try {
      new window.Ainima(0, undefined).segments(new Uint8Array([82, 73, 70, 70, 1, 2]));
      return "no error";
    } catch (e) {
      return String(e.message);
    }
  });
}

// The host page's own tool, behind the agent's approval (runs in the page).
function pageTool({ skills, said }) {
  const a = new window.Ainima(0, skills);
  a.registerTool({
    name: "page.paint",
    description: "Paints the page in a colour.",
    parameters: {
      type: "object", properties: { color: { type: "string" } }, required: ["color"], additionalProperties: false,
    },
    annotations: { destructiveHint: true },
  }, (args) => { document.body.dataset.painted = args.color; return { painted: args.color }; });
  const turns = [];
  const painted = [];
  for (const s of said) {
    // [words, true]: heard while the page itself was speaking (its voice
    // not through our canceller).
    const turn = Array.isArray(s) ? a.hearSpoken(s[0], Date.now(), 0, s[1], false, false) : a.hear(s, Date.now(), 0);
    turns.push(JSON.parse(turn));
    painted.push(document.body.dataset.painted || null);
  }
  return { turns, painted };
}

// The microphone: the fake device plays the WAV once, once the speech model
// is loaded; what was heard, recognised and done.
async function microphone(page, plan, out) {
  await page.waitForFunction(() => window.ainimaSpeech !== undefined, null, { timeout: plan.speech_timeout_ms || 300000 });
  out.speech = await page.evaluate(() => window.ainimaSpeech);
  const before = await page.evaluate(() => window.ainimaTurns.length);
  // Heard always, or (the page's default) only after the wake word.
  if (plan.mic_always) await page.uncheck("#wake");
  const expectHeard = plan.mic_heard === undefined ? plan.mic_segments : plan.mic_heard;
  await page.click("#listen");
  const deadline = Date.now() + (plan.mic_seconds + 60) * 1000;
  while (Date.now() < deadline) {
    const [ends, heard] = await page.evaluate(() => [
      window.ainimaSegments.filter((s) => s.end !== undefined).length, window.ainimaHeard.length,
    ]);
    if (ends >= plan.mic_segments && heard >= (out.speech.name ? expectHeard : 0)) break;
    await page.waitForTimeout(200);
  }
  out.mic_segments = await page.evaluate(() => window.ainimaSegments.filter((s) => s.end !== undefined));
  out.heard = await page.evaluate(() => window.ainimaHeard);
  out.wakes = await page.evaluate(() => window.ainimaWakes);
  out.spoken_turns = await page.evaluate((n) => window.ainimaTurns.slice(n), before);
  out.mic_text = await page.textContent("#mic");
}

// In a room: a typed line's reply is said aloud and heard back by the
// microphone; a person may talk over it (plan.room.interrupt).
async function room(page, plan, out) {
  const r = plan.room;
  await page.waitForFunction(() => window.ainimaSpeech !== undefined, null, { timeout: plan.speech_timeout_ms || 300000 });
  out.speech = await page.evaluate(() => window.ainimaSpeech);
  if (plan.mic_always) await page.uncheck("#wake");
  if (r.record) await page.evaluate(() => { window.ainimaRecord = []; });
  await page.click("#listen");
  // The microphone is on (the sound server's stream has started), as a
  // person sees before they talk.
  await page.waitForFunction(() => window.ainimaMicSamples >= 8000, null, { timeout: 20000 });
  // The speaker's volume (the browser's stream on the sound server): how
  // loud the page's voice reaches the microphone.
  if (r.speaker_volume) {
    const { execFileSync } = require("child_process");
    const inputs = execFileSync("pactl", ["list", "short", "sink-inputs"], { env: process.env, encoding: "utf8" });
    out.speaker_streams = 0;
    for (const line of inputs.split("\n").filter((l) => l.trim())) {
      execFileSync("pactl", ["set-sink-input-volume", line.split("\t")[0], r.speaker_volume], { env: process.env });
      out.speaker_streams++;
    }
  }
  const before = await page.evaluate(() => window.ainimaTurns.length);
  await page.fill("#say", r.typed);
  await page.press("#say", "Enter");
  await page.waitForFunction(() => window.ainimaPlaying.length > 0, null, { timeout: 120000 });
  const began = Date.now();
  if (r.interrupt) {
    await page.waitForTimeout(r.after_ms);
    const { spawnSync } = require("child_process");
    out.interrupt_after_ms = Date.now() - began;
    const p = spawnSync("paplay", ["-d", r.sink, r.interrupt], { env: process.env });
    if (p.status !== 0) throw new Error(`paplay: ${p.stderr}`);
  }
  // Until the page has stopped speaking and heard what it will hear.
  const deadline = began + r.seconds * 1000;
  while (Date.now() < deadline) {
    const done = await page.evaluate((n) => {
      const heard = window.ainimaHeard.length;
      return heard >= n;
    }, r.heard || 0);
    if (done && Date.now() - began > 3000) {
      const quiet = await page.evaluate(() => !window.ainimaSpeaking());
      if (quiet) break;
    }
    await page.waitForTimeout(200);
  }
  await page.waitForTimeout(1500);
  out.room = await page.evaluate((n) => ({
    playing: window.ainimaPlaying,
    echo: JSON.parse(window.ainima.echo()),
    barge_ins: window.ainimaBargeIns,
    segments: window.ainimaSegments,
    heard: window.ainimaHeard,
    turns: window.ainimaTurns.slice(n),
    log: Array.from(document.querySelectorAll("#log p"), (p) => p.textContent),
  }), before);
  if (r.record) {
    // What the page heard and played, as two 16 kHz WAVs (16-bit).
    const both = await page.evaluate(() => {
      const pcm = (chunks) => {
        const n = chunks.reduce((s, c) => s + c.length, 0);
        const out = new Int16Array(n);
        let at = 0;
        for (const c of chunks) {
          for (let i = 0; i < c.length; i++) out[at + i] = Math.max(-32768, Math.min(32767, Math.round(c[i] * 32767)));
          at += c.length;
        }
        const bytes = new Uint8Array(out.buffer);
        let text = "";
        for (let i = 0; i < bytes.length; i += 8192) text += String.fromCharCode(...bytes.subarray(i, i + 8192));
        return btoa(text);
      };
      const rec = window.ainimaRecord;
      return {
        mic: pcm(rec.map(([m]) => m)),
        played: pcm(rec.map(([m, p]) => p || new Float32Array(m.length))),
      };
    });
    for (const [name, b64] of Object.entries(both)) {
      fs.writeFileSync(`${r.record}-${name}.wav`, wav16k(Buffer.from(b64, "base64")));
    }
  }
}

// 16-bit mono PCM at 16 kHz, as a WAV file.
function wav16k(pcm) {
  const h = Buffer.alloc(44);
  h.write("RIFF", 0); h.writeUInt32LE(36 + pcm.length, 4); h.write("WAVE", 8);
  h.write("fmt ", 12); h.writeUInt32LE(16, 16); h.writeUInt16LE(1, 20); h.writeUInt16LE(1, 22);
  h.writeUInt32LE(16000, 24); h.writeUInt32LE(32000, 28); h.writeUInt16LE(2, 32); h.writeUInt16LE(16, 34);
  h.write("data", 36); h.writeUInt32LE(pcm.length, 40);
  return Buffer.concat([h, pcm]);
}

// The service worker installed (its files kept), or the driver fails.
async function serviceWorker(page) {
  await page.evaluate(() => Promise.race([
    navigator.serviceWorker.ready.then(() => true),
    new Promise((_, fail) => setTimeout(() => fail(new Error("no service worker within 60 s")), 60000)),
  ]));
}

// Offline: once the service worker runs, the server is stopped (killed, by
// the pid the plan gives), and the page is loaded again: what it does then.
async function offline(page, plan, out) {
  await serviceWorker(page);
  // Whisper's files kept by the recogniser on the first load.
  if (plan.offline.speech) {
    await page.waitForFunction(() => window.ainimaSpeech !== undefined, null, { timeout: plan.speech_timeout_ms || 300000 });
  }
  process.kill(plan.offline.server_pid);
  const o = {};
  // The server answers no more (asked from outside the browser).
  for (let i = 0; i < 50; i++) {
    o.server_answers = await fetch(plan.url).then(() => true, () => false);
    if (!o.server_answers) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await page.reload();
  await page.waitForFunction(() => window.ainimaReadyMs !== undefined, null, { timeout: 60000 });
  o.controlled = await page.evaluate(() => navigator.serviceWorker.controller !== null);
  o.status = await page.textContent("#status");
  o.model_loaded = await page.evaluate(() => window.ainimaModel !== null);
  await typed(page, { typed: plan.offline.typed }, o);
  if (plan.offline.speech) {
    await page.waitForFunction(() => window.ainimaSpeech !== undefined, null, { timeout: plan.speech_timeout_ms || 300000 });
    o.speech = await page.evaluate(() => window.ainimaSpeech);
  }
  out.offline = o;
}

main().catch((e) => { console.error(e.stack || String(e)); process.exit(1); });
