#!/usr/bin/env python3
"""Calibrates the session's NEAR_MARGIN (ainima/src/session/judge.rs).

Says 200 of Home Assistant's English test sentences (those of the intents
the agent acts on; seeded sample) with espeak-ng in seven voices, 50
sentences that ask for nothing (negatives.txt) the same way, and runs the
shared recordings; each through `ainima run` with HA's sentences and test
home, `AINIMA_NEAR_TRACE=1` printing every near reading the recogniser
weighed and how likely it found it. Then, for each sentence with near
readings, whether the likeliest one does what was said (typed through
`ainima chat`, the same intent and slots as the sentence itself) and its
gap to what the recogniser wrote, likeliest first.

Never run on the speech-to-phrase recordings: those are the test.

  python3 calibrate.py AINIMA_BIN DATA_DIR OUT.json   (needs PyYAML, espeak-ng;
  AINIMA_HOME with the whisper model imported)
"""
import glob, json, math, os, random, re, subprocess, sys, tempfile
from concurrent.futures import ThreadPoolExecutor

import yaml

BIN, DATA, OUT = sys.argv[1], sys.argv[2], sys.argv[3]
HERE = os.path.dirname(os.path.abspath(__file__))
tmp = tempfile.mkdtemp(prefix="near-margin-")
config = os.path.join(tmp, "ainima.toml")
with open(config, "w") as f:
    f.write('[home_assistant]\nsentences = "%s/ha-intents/sentences/en"\n'
            'home = "%s/ha-intents/tests/en/_fixtures.yaml"\narea = "Living Room"\n' % (DATA, DATA))

acted = re.compile(r"^(light|cover|lock|media_player|climate_HassClimateGetTemperature|weather|"
                   r"sensor|scene|script|homeassistant_HassTurnO|fan)")
sentences = []
for path in sorted(glob.glob(DATA + "/ha-intents/tests/en/*.yaml")):
    if acted.match(os.path.basename(path)):
        for t in yaml.safe_load(open(path)).get("tests", []):
            sentences.extend(t.get("sentences", []))
random.seed(7)
random.shuffle(sentences)
sentences = sentences[:200]
negatives = open(os.path.join(HERE, "negatives.txt")).read().splitlines()
voices = ["en-us", "en", "en-gb-x-rp", "en-029", "en-gb-scotland", "en-us+f3", "en+m3"]
items = []
for i, s in enumerate(sentences + negatives):
    wav = os.path.join(tmp, "s%d.wav" % i)
    subprocess.run(["espeak-ng", "-v", voices[i % len(voices)], "-s", str(150 + (i * 7) % 45),
                    "-w", wav, s], check=True)
    items.append((s, wav, "command" if i < len(sentences) else "negative"))
for line in open(DATA + "/speech/MANIFEST.tsv").read().splitlines()[1:]:
    c = line.split("\t")
    if c[7] != "?":
        items.append((c[7], DATA + "/speech/" + c[0], "recording"))

env = dict(os.environ, AINIMA_NEAR_TRACE="1")


def heard(item):
    s, wav, kind = item
    p = subprocess.run([BIN, "--config", config, "run", "--input", wav, "--events", os.devnull,
                        "--quiet", "--deterministic"], capture_output=True, text=True, env=env)
    return s, kind, [l for l in p.stderr.splitlines() if l.startswith(("NEAR ", "NEAR-BIASED "))]


def act(text):
    p = subprocess.run([BIN, "--config", config, "chat", "--json", "--now", "1767225600"],
                       input=text + "\n", capture_output=True, text=True,
                       env=dict(os.environ, AINIMA_HOME=os.path.join(tmp, "chat")))
    d = json.loads(p.stdout.splitlines()[0])
    return d.get("intent"), json.dumps(d.get("slots"), sort_keys=True)


with ThreadPoolExecutor(2) as ex:
    results = list(ex.map(heard, items))
rows = []
for s, kind, lines in results:
    for l in lines:
        m = re.match(r'(NEAR|NEAR-BIASED) (".*?"|\'.*?\') (\[.*\]) (\[.*\]) weighed', l)
        if not m:
            continue
        # NEAR: weighed against the first hearing; NEAR-BIASED: against the
        # second, biased hearing, in its context (the prompt it was heard with).
        context = "biased" if m.group(1) == "NEAR-BIASED" else "free"
        u = re.search(r"unbiased Some\((\[.*\])\)", l)
        # [the first hearing, the named reading], unbiased (nan: not weighed).
        unbiased = eval(u.group(1).replace("-inf", "float('-inf')")
                        .replace("NaN", "float('nan')")) if u else None
        free, near = eval(m.group(2)), eval(m.group(3))
        scores = eval(m.group(4).replace("-inf", "-1e9"))
        best = max(range(len(near)), key=lambda i: (scores[i + 1], -i))
        did = act(near[best])
        # A command is right when it does what the sentence does; anything
        # else (a negative, a recording not a command) is right only doing nothing.
        want = act(s) if kind == "command" else (None, "{}")
        # A biased hearing's reading is dropped when the recogniser, unbiased,
        # finds it more than ASK_MARGIN (10) less likely than the first
        # hearing, or cannot score either (as judge.rs does).
        finite = unbiased is not None and all(math.isfinite(x) for x in unbiased)
        ugap = unbiased[1] - unbiased[0] if finite else None
        rows.append(dict(gap=scores[best + 1] - scores[0], unbiased_gap=ugap,
                         dropped=unbiased is not None and (not finite or ugap < -10.0), right=did == want or
                         (kind == "recording" and did == act(s)), kind=kind, said=s,
                         heard=free, read=near[best], intent=did[0], context=context,
                         unbiased=unbiased))
rows.sort(key=lambda r: -r["gap"])
for context in ("free", "biased"):
    these = [r for r in rows if r["context"] == context]
    print("\n%s: weighed against the %s" % (context, "first hearing" if context == "free" else
                                            "second, biased hearing, with its prompt"))
    for r in these:
        print("%7.2f %-5s %-9s %s | %s -> %s (%s)%s" % (
            r["gap"], "right" if r["right"] else "WRONG", r["kind"], r["said"], r["heard"],
            r["read"], r["intent"], "" if r["unbiased"] is None else
            " unbiased %s%s" % ("%.2f" % r["unbiased_gap"] if r["unbiased_gap"] is not None
                                else "not weighed", ", dropped" if r["dropped"] else "")))
    wrong = [r["gap"] for r in these if not r["right"]]
    print("%d utterances, %d with near readings; first wrong at %s" %
          (len(items), len(these), "%.2f" % max(wrong) if wrong else "none"))
    kept = [r for r in these if not r["dropped"]]
    if context == "biased":
        wrong = [r["gap"] for r in kept if not r["right"]]
        print("after the unbiased check: %d kept, %d dropped; first wrong at %s" %
              (len(kept), len(these) - len(kept), "%.2f" % max(wrong) if wrong else "none"))
    # The window asked about ("Did you mean ...?"): readings a little less
    # likely than the margin takes (NEAR_MARGIN 5, BIASED_NEAR_MARGIN 4),
    # and up to ASK_MARGIN (10) less.
    margin = 4.0 if context == "biased" else 5.0
    ask = [r for r in kept if -10.0 <= r["gap"] < -margin]
    print("asked about (%d to 10 nats): %d right, %d wrong on commands or recordings, "
          "%d of the %d sentences that ask nothing" %
          (margin, sum(r["right"] for r in ask),
           sum(not r["right"] and r["kind"] != "negative" for r in ask),
           sum(not r["right"] and r["kind"] == "negative" for r in ask),
           sum(1 for i in items if i[2] == "negative")))
json.dump(rows, open(OUT, "w"), indent=1)
