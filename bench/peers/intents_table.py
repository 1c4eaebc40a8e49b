#!/usr/bin/env python3
"""The languages table of BENCHMARKS.md ("Home Assistant's intents"): runs
`ainima intents test DIR --json` (every language) and the hassil peer
(hassil_intents.py, same files, same test setup) in one go, and prints a
Markdown table: per language, ours on all test files and on the files
hassil can load (no intent folders), hassil on those, and both sides'
recognition time.

Usage: intents_table.py AINIMA_BINARY PYTHON_WITH_HASSIL INTENTS_DIR
"""
import json
import subprocess
import sys
from pathlib import Path

ainima, python, root = sys.argv[1], sys.argv[2], Path(sys.argv[3])
here = Path(__file__).resolve().parent

ours = json.loads(
    subprocess.run(
        [ainima, "intents", "test", str(root), "--json"], capture_output=True, text=True
    ).stdout
)
langs = [o["language"] for o in ours]
theirs = {}
peer = subprocess.run(
    [python, str(here / "hassil_intents.py"), str(root), *langs],
    capture_output=True,
    text=True,
)
for line in peer.stdout.splitlines():
    d = json.loads(line)
    theirs[d["language"]] = d


def pct(p, t):
    return f"{100.0 * p / t:.1f} %" if t else "-"


print("| language | ours, all files | ours, hassil's files | hassil, same files | ours ms | hassil ms |")
print("|---|---|---|---|---|---|")
for o in ours:
    lang = o["language"]
    h = theirs.get(lang, {})
    if "error" in o:
        print(f"| {lang} | does not load: {o['error'][:80]} | | | | |")
        continue
    classic = [f for f in o["files"] if "/" not in f["file"]]
    cp = sum(f["passed"] for f in classic)
    ct = sum(f["total"] for f in classic)
    cs = sum(f["seconds"] for f in classic) * 1000
    if "error" in h or not h:
        hp = "does not load" if h else "-"
        hs = "-"
    else:
        hp = f"{h['passed']} / {h['total']} ({pct(h['passed'], h['total'])})"
        hs = f"{h['seconds'] * 1000:.0f}"
    print(
        f"| {lang} | {o['passed']} / {o['total']} ({pct(o['passed'], o['total'])}) "
        f"| {cp} / {ct} ({pct(cp, ct)}) | {hp} | {cs:.1f} | {hs} |"
    )
