// Drives the browser app in Debian's headless chromium (playwright-core; no
// browser download) as a person would, and prints what the page did as one
// JSON object. Usage: node drive.cjs PLAN.json (NODE_PATH: node_modules
// holding playwright-core). The plan: {url, mic (a WAV, fed as the
// microphone), mic_seconds, mic_segments, typed: [lines], files: [audio
// files], endpointer (TOML), page_tool: {skills, said: [lines]}}.
const fs = require("fs");
const { chromium } = require("playwright-core");

async function main() {
  const plan = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  const browser = await chromium.launch({
    executablePath: process.env.AINIMA_CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync",
      "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
      `--use-file-for-fake-audio-capture=${plan.mic}%noloop`,
      "--autoplay-policy=no-user-gesture-required",
    ],
  });
  const out = { console: [] };
  try {
    const page = await browser.newPage();
    page.on("console", (m) => out.console.push(`${m.type()}: ${m.text()}`));
    page.on("pageerror", (e) => out.console.push(`pageerror: ${e.message}`));
    const t0 = Date.now();
    await page.goto(plan.url);
    await page.waitForFunction(() => window.ainimaReadyMs !== undefined, null, { timeout: 60000 });
    out.load_ms = Date.now() - t0;
    out.ready_ms = await page.evaluate(() => window.ainimaReadyMs);
    out.status = await page.textContent("#status");
    out.model_loaded = await page.evaluate(() => window.ainimaModel !== null);

    // Typed, as a person types: the box, then Enter.
    for (const line of plan.typed) {
      await page.fill("#say", line);
      await page.press("#say", "Enter");
    }
    out.turns = await page.evaluate(() => window.ainimaTurns);
    out.log = await page.$$eval("#log p", (ps) => ps.map((p) => p.textContent));

    // Audio files through the page's front end.
    out.file_segments = await page.evaluate(({ files, endpointer }) => {
      const a = new window.Ainima(0, undefined);
      a.setEndpointer(endpointer);
      return files.map((b64) => JSON.parse(a.segments(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)))));
    }, { files: plan.files.map((f) => fs.readFileSync(f).toString("base64")), endpointer: plan.endpointer });
    out.bad_audio = await page.evaluate(() => {
      try { new window.Ainima(0, undefined).segments(new Uint8Array([82, 73, 70, 70, 1, 2])); return "no error"; }
      catch (e) { return String(e.message); }
    });

    // The host page's own tool, behind the agent's approval.
    out.page_tool = await page.evaluate(({ skills, said }) => {
      const a = new window.Ainima(0, skills);
      a.registerTool({
        name: "page.paint",
        description: "Paints the page in a colour.",
        parameters: { type: "object", properties: { color: { type: "string" } }, required: ["color"], additionalProperties: false },
        annotations: { destructiveHint: true },
      }, (args) => { document.body.dataset.painted = args.color; return { painted: args.color }; });
      const turns = [];
      const painted = [];
      for (const s of said) {
        turns.push(JSON.parse(a.hear(s, Date.now(), 0)));
        painted.push(document.body.dataset.painted || null);
      }
      return { turns, painted };
    }, plan.page_tool);

    // The microphone: the fake device plays the WAV once.
    await page.click("#listen");
    const deadline = Date.now() + (plan.mic_seconds + 5) * 1000;
    while (Date.now() < deadline) {
      const ends = await page.evaluate(() => window.ainimaSegments.filter((s) => s.end !== undefined).length);
      if (ends >= plan.mic_segments) break;
      await page.waitForTimeout(200);
    }
    out.mic_segments = await page.evaluate(() => window.ainimaSegments.filter((s) => s.end !== undefined));
    out.mic_text = await page.textContent("#mic");
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => { console.error(e.stack || String(e)); process.exit(1); });
