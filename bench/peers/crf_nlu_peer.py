"""The Snips NLU probabilistic parser's recipe, as a peer for
`ainima bench joint`: a logistic-regression intent classifier on TF-IDF
word and character n-grams (scikit-learn) and one linear-chain CRF per
intent for the slots (python-crfsuite, the library Snips NLU used), with
word, affix, shape and neighbour features and the same slot-list
(gazetteer) matches our model sees, leave-one-out on training sentences.

Reads the SNIPS folder given (train_*.json, validate_*.json; Latin-1
where a file is not UTF-8), trains, then parses each validation sentence
one at a time. Prints one JSON object: train_seconds, median_us (one
sentence, intent and slots), and per sentence the intent and the slots as
[name, text] pairs; the caller scores them with its own scorer."""
import glob
import json
import os
import re
import statistics
import sys
import time

import pycrfsuite
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, make_pipeline

TOKEN = re.compile(r"\w+(?:'\w+)?|[^\w\s]", re.UNICODE)
MAX_VALUE = 8


def read(path):
    raw = open(path, "rb").read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    out = []
    for intent, items in json.loads(text).items():
        for item in items:
            out.append((intent, [(c["text"], c.get("slot_name") or c.get("entity")) for c in item["data"]]))
    return out


def tokens_tags(chunks):
    toks, tags = [], []
    for text, slot in chunks:
        words = TOKEN.findall(text)
        for i, w in enumerate(words):
            toks.append(w)
            tags.append("O" if slot is None else ("B-" if i == 0 else "I-") + slot)
    return toks, tags


def shape(w):
    if w.isdigit():
        return "digit"
    if w.istitle():
        return "title"
    if w.isupper():
        return "upper"
    if w.islower():
        return "lower"
    return "other"


def gaz_matches(lower, gaz, exclude):
    hits = [set() for _ in lower]
    for s in range(len(lower)):
        for e in range(s, min(len(lower), s + MAX_VALUE)):
            key = " ".join(lower[s:e + 1])
            for slot, n in gaz.get(key, {}).items():
                if n - exclude.get((key, slot), 0) > 0:
                    hits[s].add("B-" + slot)
                    for j in range(s + 1, e + 1):
                        hits[j].add("I-" + slot)
    return hits


def features(toks, gaz, exclude):
    lower = [t.lower() for t in toks]
    hits = gaz_matches(lower, gaz, exclude)
    out = []
    for i, w in enumerate(lower):
        f = ["w=" + w, "s3=" + w[-3:], "s2=" + w[-2:], "p3=" + w[:3], "shape=" + shape(toks[i])]
        for d in (-2, -1, 1, 2):
            j = i + d
            f.append("w%+d=%s" % (d, lower[j] if 0 <= j < len(lower) else "<pad>"))
        if i > 0:
            f.append("bi-=" + lower[i - 1] + "|" + w)
        if i + 1 < len(lower):
            f.append("bi+=" + w + "|" + lower[i + 1])
        f.extend("gaz=" + h for h in sorted(hits[i]))
        for d in (-1, 1):
            j = i + d
            if 0 <= j < len(lower):
                f.extend("gaz%+d=%s" % (d, h) for h in sorted(hits[j]))
        out.append(f)
    return out


def main():
    folder = sys.argv[1]
    train, test = [], []
    # The same files the caller reads: every train_*.json, validate_*.json.
    for p in sorted(glob.glob(os.path.join(folder, "train_*.json"))):
        train += read(p)
    for p in sorted(glob.glob(os.path.join(folder, "validate_*.json"))):
        test += read(p)

    t0 = time.perf_counter()
    gaz = {}
    for _, chunks in train:
        for text, slot in chunks:
            if slot:
                key = " ".join(t.lower() for t in TOKEN.findall(text))
                if key and len(key.split()) <= MAX_VALUE:
                    gaz.setdefault(key, {}).setdefault(slot, 0)
                    gaz[key][slot] += 1
    texts = ["".join(t for t, _ in chunks) for _, chunks in train]
    intents = [i for i, _ in train]
    clf = make_pipeline(
        FeatureUnion([
            ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)),
        ]),
        LogisticRegression(C=10.0, max_iter=2000),
    )
    clf.fit(texts, intents)
    taggers = {}
    for intent in sorted(set(intents)):
        trainer = pycrfsuite.Trainer(verbose=False)
        for i, chunks in train:
            if i != intent:
                continue
            toks, tags = tokens_tags(chunks)
            if not toks:
                continue
            exclude = {}
            for text, slot in chunks:
                if slot:
                    key = " ".join(t.lower() for t in TOKEN.findall(text))
                    exclude[(key, slot)] = exclude.get((key, slot), 0) + 1
            trainer.append(features(toks, gaz, exclude), tags)
        trainer.set_params({"c1": 0.1, "c2": 0.1, "max_iterations": 200})
        path = os.path.join(os.environ.get("TMPDIR", "/tmp"), "crf-peer-%d-%s.crfsuite" % (os.getpid(), intent))
        trainer.train(path)
        tagger = pycrfsuite.Tagger()
        tagger.open(path)
        taggers[intent] = tagger
    train_seconds = time.perf_counter() - t0

    per, predictions = [], []
    for _, chunks in test:
        text = "".join(t for t, _ in chunks)
        t = time.perf_counter()
        intent = clf.predict([text])[0]
        spans = [(m.group(0), m.start(), m.end()) for m in TOKEN.finditer(text)]
        toks = [s[0] for s in spans]
        tags = taggers[intent].tag(features(toks, gaz, {})) if toks else []
        per.append(time.perf_counter() - t)
        slots = []
        for k, tag in enumerate(tags):
            if tag == "O":
                continue
            name = tag[2:]
            if tag.startswith("I-") and slots and slots[-1][0] == name and slots[-1][3] == k:
                slots[-1][2] = spans[k][2]
                slots[-1][3] = k + 1
            else:
                slots.append([name, spans[k][1], spans[k][2], k + 1])
        predictions.append({"text": text, "intent": intent, "slots": [[n, text[a:b]] for n, a, b, _ in slots]})
    print(json.dumps({
        "train_seconds": train_seconds,
        "median_us": statistics.median(per) * 1e6,
        "predictions": predictions,
    }))


if __name__ == "__main__":
    main()
