"""River baseline for bench/accuracy.ts: LogisticRegression on BagOfWords with jieba tokens, test-then-train.

Usage: python river_bench.py <data.jsonl> [--passes N]   Prints one JSON object with accuracy, macro-F1 and
throughput of the first pass (cold) and the best of N passes (warm), each pass with a fresh model.
Same protocol as tokrs' prequential operator: predict the message, score it, then learn from it, in file order.
"""
import json
import sys
import time

import jieba
from river import compose, feature_extraction, linear_model, metrics

jieba.setLogLevel(60)
jieba.initialize()  # load the dictionary before the clock starts, as tokrs does before its stream starts

rows = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
passes = int(sys.argv[sys.argv.index("--passes") + 1]) if "--passes" in sys.argv else 1


def tokenize(text):
    return jieba.lcut(text)


def run(pretokenized):
    model = compose.Pipeline(
        feature_extraction.BagOfWords(tokenizer=tokenize, lowercase=True),
        linear_model.LogisticRegression(),
    )
    if pretokenized:
        # Learner only: the bag of words is computed before the clock starts.
        bow = feature_extraction.BagOfWords(tokenizer=tokenize, lowercase=True)
        xs = [bow.transform_one(r["text"]) for r in rows]
        model = linear_model.LogisticRegression()
    acc, f1 = metrics.Accuracy(), metrics.MacroF1()
    start = time.perf_counter()
    for i, r in enumerate(rows):
        x = xs[i] if pretokenized else r["text"]
        y = r["label"] == "positive"
        y_pred = model.predict_one(x)
        acc.update(y, y_pred)
        f1.update(y, y_pred)
        model.learn_one(x, y)
    elapsed = time.perf_counter() - start
    return {"accuracy": acc.get(), "macroF1": f1.get(), "messages": len(rows), "seconds": elapsed, "perSecond": len(rows) / elapsed}


import river  # noqa: E402



def repeat(pretokenized):
    runs = [run(pretokenized) for _ in range(passes)]
    first = runs[0]
    assert all(r["accuracy"] == first["accuracy"] for r in runs), "passes disagree"
    return {**first, "cold": first["perSecond"], "warm": max(r["perSecond"] for r in runs)}


print(json.dumps({"river": river.__version__, "endToEnd": repeat(False), "learnerOnly": repeat(True)}))
