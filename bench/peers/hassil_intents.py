#!/usr/bin/env python3
"""Home Assistant's hassil on home-assistant/intents' own tests, as its test
runner sets them up: every sentence file of a language merged, the slot
lists `name` (entities, with their domain and attributes as context),
`area` and `floor` from the test fixtures (a name that is a template, such
as Icelandic "Vinstri gardín(an|u|a|una|unni)", is each of its forms, as
HA's runner's `get_slot_lists` makes it), each test's `context` as the
intent context, `recognize_best` with `best_slot_name="name"`; a sentence
passes when the intent and exactly the expected slots come out, compared
as HA's runner compares them (a list in the test: any of its values; a
list recognised: it holds every value the test names), except one the
language's `_test_failures.yaml` lists, which passes when it does not (as
in HA's runner).
Intent folders (tests/LANG/INTENT/*.yaml) are left out: hassil has no
loader for them. Prints one JSON object a language:

    {"language", "passed", "total", "load_seconds", "seconds", "files": {FILE: [passed, total]}}

Usage: hassil_intents.py INTENTS_DIR LANG...
"""
import json
import sys
import time
from pathlib import Path

import yaml
from hassil import (
    Intents,
    TextSlotList,
    is_template,
    merge_dict,
    parse_sentence,
    recognize_best,
    sample_expression,
)


def forms(name):
    """A fixture's name, each of its forms if it is a template."""
    if is_template(name):
        return [n.strip() for n in sample_expression(parse_sentence(name).expression)]
    return [name.strip()]


def text(v):
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip().lower()


def same(got, want):
    """HA's runner's rule: a list in the test is the values allowed; a list
    recognised must hold every value the test names (or the one it names)."""
    if isinstance(got, list) and isinstance(want, list):
        return all(any(same_one(g, w) for g in got) for w in want)
    if isinstance(want, list):
        return any(same_one(got, w) for w in want)
    if isinstance(got, list):
        return any(same_one(g, want) for g in got)
    return same_one(got, want)


def same_one(got, want):
    try:
        return abs(float(got) - float(want)) < 1e-9
    except (TypeError, ValueError):
        return text(got) == text(want)


def run(root: Path, lang: str):
    t0 = time.perf_counter()
    merged = {}
    for p in sorted((root / "sentences" / lang).glob("*.yaml")):
        with open(p, encoding="utf-8") as f:
            merge_dict(merged, yaml.safe_load(f) or {})
    intents = Intents.from_dict(merged)
    with open(root / "tests" / lang / "_fixtures.yaml", encoding="utf-8") as f:
        fixtures = yaml.safe_load(f) or {}
    areas = {a["id"]: a for a in fixtures.get("areas") or []}
    names = []
    for e in fixtures.get("entities") or []:
        context = {"domain": e["id"].split(".")[0]}
        context.update(e.get("attributes") or {})
        area = areas.get(e.get("area"))
        if area:
            context["area"] = area["name"]
        names.extend((n, n, context) for n in forms(e["name"]))
    slot_lists = {
        "name": TextSlotList.from_tuples(names, allow_template=False),
        "area": TextSlotList.from_strings(
            [n for a in fixtures.get("areas") or [] for n in forms(a["name"])]
        ),
        "floor": TextSlotList.from_strings(
            [n for f in fixtures.get("floors") or [] for n in forms(f["name"])]
        ),
    }
    failures = root / "tests" / lang / "_test_failures.yaml"
    failing = set()
    if failures.is_file():
        with open(failures, encoding="utf-8") as f:
            failing = set((yaml.safe_load(f) or {}).get("sentences") or [])
    load = time.perf_counter() - t0
    passed = total = 0
    files = {}
    t1 = time.perf_counter()
    for p in sorted((root / "tests" / lang).glob("*.yaml")):
        if p.name in ("_fixtures.yaml", "_test_failures.yaml"):
            continue
        with open(p, encoding="utf-8") as f:
            tests = (yaml.safe_load(f) or {}).get("tests") or []
        fp = ft = 0
        for t in tests:
            want = t.get("intent") or {}
            slots = want.get("slots") or {}
            context = want.get("context") or {}
            for s in t.get("sentences") or []:
                ft += 1
                try:
                    r = recognize_best(
                        s,
                        intents,
                        slot_lists=slot_lists,
                        intent_context=context,
                        language=lang,
                        best_slot_name="name",
                    )
                except Exception:  # a sentence hassil cannot take counts as a miss
                    r = None
                right = False
                if r is not None and r.intent.name == want.get("name"):
                    got = {k: v.value for k, v in r.entities.items()}
                    right = set(got) == set(slots) and all(
                        same(got[k], v) for k, v in slots.items()
                    )
                if right != (s in failing):
                    fp += 1
        files[p.name] = [fp, ft]
        passed += fp
        total += ft
    return {
        "language": lang,
        "passed": passed,
        "total": total,
        "load_seconds": load,
        "seconds": time.perf_counter() - t1,
        "files": files,
    }


if __name__ == "__main__":
    root = Path(sys.argv[1])
    for lang in sys.argv[2:]:
        try:
            print(json.dumps(run(root, lang)), flush=True)
        except Exception as e:  # a language hassil cannot load
            print(json.dumps({"language": lang, "error": repr(e)}), flush=True)
