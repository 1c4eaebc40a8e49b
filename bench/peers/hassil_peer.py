"""Home Assistant's hassil on the same templates and utterances as
`ainima bench nlu`: load time, then the median time to recognise each
utterance, and what it recognised. Prints one JSON object."""
import json
import statistics
import sys
import time

from hassil import Intents, recognize

spec_path, utterances_path, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(spec_path, encoding="utf-8") as f:
    spec = json.load(f)
with open(utterances_path, encoding="utf-8") as f:
    utterances = json.load(f)

t0 = time.perf_counter()
intents = Intents.from_dict(spec)
load = time.perf_counter() - t0

per = []
got = []
for text in utterances:
    times = []
    result = None
    for _ in range(runs):
        t = time.perf_counter()
        result = recognize(text, intents)
        times.append(time.perf_counter() - t)
    per.append(statistics.median(times))
    got.append(result.intent.name if result else None)

per.sort()
print(json.dumps({
    "load_seconds": load,
    "median_us": per[len(per) // 2] * 1e6,
    "p95_us": per[int(len(per) * 0.95)] * 1e6,
    "intents": got,
}))
