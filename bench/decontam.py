"""Gold decontamination at scale: near-duplicate detection of candidate prompts against a gold set.

    python bench/decontam.py [--candidates 1000000] [--gold 10000] [--workers 2] [--smoke]

Synthetic prompts (pseudo-words with English function words, names and numbers; three sentences:
topic, request, details). Each gold item gets two planted near-duplicates, of kinds taken in turn
from KINDS, and two planted hard negatives: ``same_topic`` (the topic sentence and the name kept,
a different request and details) and ``same_template`` (a shared instruction line, different
content). The rest of the candidates are fresh prompts. Our path (``workers.hygiene.neardup``:
datasketch MinHash LSH over word bigrams, exact Jaccard on the proposals) runs over every
candidate with ``--workers`` processes; the baseline (exact Jaccard against every gold item, no
index) runs over a random sample with the same processes. Recall (planted near-duplicates of the
issue's seven kinds found, matched to their own gold item; the ``combined`` stress kind, every edit
at once, is reported beside it), precision (flags that are a planted near-duplicate of the gold
item named) and the false-positive rate of each hard-negative kind come with 95% Wilson
intervals. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workers.hygiene.neardup import DEFAULT_THRESHOLD, NearDupIndex
from workers.stats import wilson

# The issue's kinds (the headline recall), then a stress kind reported on its own: all edits at once.
ISSUE_KINDS = ["typo", "casing", "punctuation", "numbers", "names", "greeting", "swapped"]
KINDS = [*ISSUE_KINDS, "combined"]
NEGATIVES = ["same_topic", "same_template"]
FUNCTION = [
    "the",
    "a",
    "of",
    "to",
    "and",
    "in",
    "for",
    "my",
    "is",
    "it",
    "on",
    "with",
    "that",
    "this",
    "from",
    "at",
    "by",
    "be",
    "i",
    "you",
]
NAMES = [
    "Alice",
    "Bob",
    "Carol",
    "David",
    "Erin",
    "Frank",
    "Grace",
    "Heidi",
    "Ivan",
    "Judy",
    "Mallory",
    "Niaj",
    "Olivia",
    "Peggy",
    "Rupert",
    "Sybil",
    "Trent",
    "Victor",
    "Walter",
    "Yusuf",
    "Zara",
    "Amira",
    "Bruno",
    "Chen",
    "Dmitri",
    "Elena",
    "Farah",
    "Goran",
    "Hana",
    "Igor",
    "Jamal",
    "Kenji",
]
GREETINGS = [
    "Hi there, I hope you are doing well today.",
    "Hello! Quick question for you.",
    "Good morning team, thanks in advance.",
    "Hey, hope all is well.",
]
TEMPLATES = [
    "You are a careful assistant; answer the question below in plain words.",
    "Read the customer message below and reply politely and briefly.",
    "Summarise the following text for a busy reader in two sentences.",
]


def vocabulary(rng, size=40000):
    syl = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "zi", "pe", "sa", "do", "gu", "be", "fa", "ho", "ji", "xu", "we"]
    words = set()
    while len(words) < size:
        words.add("".join(rng.choice(syl) for _ in range(rng.randint(2, 4))))
    return sorted(words)


class Writer:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.vocab = vocabulary(random.Random(12345))

    def sentence(self, lo=7, hi=13):
        rng, n = self.rng, self.rng.randint(lo, hi)
        # Content words by Zipf's law (rank r with probability ~1/r: log-uniform ranks) mixed with
        # function words, so common bigrams recur across unrelated prompts as they do in real text.
        top = len(self.vocab)
        ws = [
            rng.choice(FUNCTION) if rng.random() < 0.3 else self.vocab[int(top ** rng.random()) - 1] for _ in range(n)
        ]
        return " ".join(ws).capitalize() + rng.choice([".", ".", "?"])

    def details(self):
        rng = self.rng
        ws = self.sentence(5, 9)[:-1].split()
        ws.insert(rng.randint(0, len(ws)), rng.choice(NAMES))
        ws.insert(rng.randint(0, len(ws)), str(rng.randint(2, 9999)))
        return " ".join(ws) + "."

    def prompt(self):
        return [self.sentence(), self.sentence(), self.details()]


def typo(word, rng):
    i = rng.randrange(len(word) - 1)
    op = rng.randrange(3)
    if op == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if op == 1:
        return word[:i] + word[i + 1 :]
    return word[:i] + rng.choice("aeiouklmnst") + word[i:]


def variant(sentences, kind, rng, writer):
    text = " ".join(sentences)
    words = text.split()
    if kind == "typo":  # two typos in words of four letters or more
        long_ones = [i for i, w in enumerate(words) if len(w) >= 4]
        for i in rng.sample(long_ones, min(2, len(long_ones))):
            words[i] = typo(words[i], rng)
        return " ".join(words)
    if kind == "casing":
        return " ".join(w.upper() if rng.random() < 0.3 else w.lower() for w in words)
    if kind == "punctuation":
        stripped = "".join(c for c in text if c.isalnum() or c.isspace())
        return stripped.replace(" ", ", ", 2) + "!!"
    if kind == "numbers":
        return " ".join(str(rng.randint(2, 9999)) if w.strip(".,?").isdigit() else w for w in words)
    if kind == "names":
        return " ".join(rng.choice(NAMES) if w.strip(".,?") in NAMES else w for w in words)
    if kind == "greeting":
        return rng.choice(GREETINGS) + " " + text
    if kind == "swapped":
        a, b, c = sentences
        return " ".join([b, a, c])
    if kind == "combined":  # a greeting, swapped sentences, a changed number and name, and a typo at once
        a, b, c = sentences
        c = variant([c], "numbers", rng, writer)
        c = variant([c], "names", rng, writer)
        return rng.choice(GREETINGS) + " " + variant([b, a, c], "typo", rng, writer)
    raise ValueError(kind)


def negative(sentences, kind, rng, writer):
    if kind == "same_topic":  # the topic and the name kept; another request and other details
        name = next((w.strip(".,?") for w in sentences[2].split() if w.strip(".,?") in NAMES), "Alice")
        return " ".join([sentences[0], writer.sentence(), f"{name} " + writer.details()])
    if kind == "same_template":
        return " ".join([rng.choice(TEMPLATES), writer.sentence(), writer.sentence()])
    raise ValueError(kind)


def build(n_candidates, n_gold, seed):
    rng = random.Random(seed)
    writer = Writer(seed + 1)
    gold_sents = [writer.prompt() for _ in range(n_gold)]
    # A third of the gold prompts open with an instruction template, as templated tasks do.
    for i in range(0, n_gold, 3):
        gold_sents[i] = [rng.choice(TEMPLATES), *gold_sents[i][1:]]
    gold = [" ".join(s) for s in gold_sents]
    planted = []  # (text, truth gold index or -1, kind)
    for g, sents in enumerate(gold_sents):
        for kind in (KINDS[g % len(KINDS)], KINDS[(g + 3) % len(KINDS)]):  # two different kinds
            planted.append((variant(sents, kind, rng, writer), g, kind))
        for kind in NEGATIVES:
            planted.append((negative(sents, kind, rng, writer), -1, kind))
    n_fresh = max(0, n_candidates - len(planted))
    texts = [" ".join(writer.prompt()) for _ in range(n_fresh)] + [p[0] for p in planted]
    truth = [-1] * n_fresh + [p[1] for p in planted]
    kinds = ["fresh"] * n_fresh + [p[2] for p in planted]
    order = list(range(len(texts)))
    rng.shuffle(order)
    return gold, [texts[i] for i in order], [truth[i] for i in order], [kinds[i] for i in order]


_INDEX: NearDupIndex | None = None
_TEXTS: list[str] = []


def _ours(bounds):
    lo, hi = bounds
    out = []
    cpu = time.process_time()
    step = 2048
    for start in range(lo, hi, step):
        for i, m in enumerate(_INDEX.query_many(_TEXTS[start : min(hi, start + step)]), start):
            if m is not None:
                out.append((i, m.key, m.similarity))
    out.append(("cpu", time.process_time() - cpu, None))
    return out


def _brute(indices):
    out = []
    for i in indices:
        m = _INDEX.brute_force(_TEXTS[i])
        if m is not None:
            out.append((i, m.key, m.similarity))
    return out


def run_pool(fn, parts, workers):
    start = time.perf_counter()
    if workers == 1:
        results = [fn(p) for p in parts]
    else:
        with mp.get_context("fork").Pool(workers) as pool:
            results = pool.map(fn, parts, chunksize=1)
    return [r for part in results for r in part], time.perf_counter() - start


def interval(k, n):
    if n == 0:
        return None
    w = wilson(k, n)
    return [round(w.low, 4), round(w.high, 4)]


def main():
    global _INDEX, _TEXTS
    parser = argparse.ArgumentParser()
    parser.add_argument("--candidates", type=int, default=1_000_000)
    parser.add_argument("--gold", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("--baseline-sample", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    if args.smoke:
        args.candidates, args.gold, args.baseline_sample = 20_000, 500, 100

    t0 = time.perf_counter()
    gold, texts, truth, kinds = build(args.candidates, args.gold, args.seed)
    gen_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    _INDEX = NearDupIndex(args.threshold)
    _INDEX.add_many(list(range(len(gold))), gold)
    index_s = time.perf_counter() - t0
    _TEXTS = texts
    n = len(texts)

    bounds = [(lo, min(n, lo + 20_000)) for lo in range(0, n, 20_000)]
    flags, ours_s = run_pool(_ours, bounds, args.workers)
    cpu_s = sum(key for i, key, _ in flags if i == "cpu")
    found = {i: (key, sim) for i, key, sim in flags if i != "cpu"}

    planted_all = [i for i in range(n) if truth[i] >= 0]
    planted = [i for i in planted_all if kinds[i] in ISSUE_KINDS]
    tp = sum(1 for i in planted if i in found and found[i][0] == truth[i])
    tp_all = sum(1 for i in planted_all if i in found and found[i][0] == truth[i])
    fp = sum(1 for i, (key, _) in found.items() if truth[i] != key)  # over every flag, stress kind included
    by_kind = {}
    for kind in KINDS:
        idx = [i for i in planted_all if kinds[i] == kind]
        hit = sum(1 for i in idx if i in found and found[i][0] == truth[i])
        by_kind[kind] = {"n": len(idx), "recall": round(hit / len(idx), 4), "ci95": interval(hit, len(idx))}
    negatives = {}
    for kind in [*NEGATIVES, "fresh"]:
        idx = [i for i in range(n) if kinds[i] == kind]
        bad = sum(1 for i in idx if i in found)
        negatives[kind] = {
            "n": len(idx),
            "false_positive_rate": round(bad / len(idx), 6),
            "ci95": interval(bad, len(idx)),
        }

    rng = random.Random(args.seed + 7)
    sample = rng.sample(range(n), min(args.baseline_sample, n))
    # The sample always holds planted near-duplicates, so the agreement check means something.
    sample += rng.sample(planted_all, min(len(planted_all), max(10, args.baseline_sample // 10)))
    per = max(1, len(sample) // args.workers + 1)
    brute, brute_s = run_pool(_brute, [sample[i : i + per] for i in range(0, len(sample), per)], args.workers)
    brute_found = {i: key for i, key, _ in brute}
    agree = sum(1 for i in sample if brute_found.get(i) == (found[i][0] if i in found else None))

    recall, precision = tp / len(planted), tp_all / max(1, tp_all + fp)
    rate, brute_rate = n / ours_s, len(sample) / brute_s
    cpus = os.cpu_count()
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    print(f"{n:,} candidates vs {len(gold):,} gold items; {len(planted_all):,} planted near-duplicates")
    print(f"generation {gen_s:.1f} s, index {index_s:.1f} s (LSH b={_INDEX.lsh.b} r={_INDEX.lsh.r})")
    print(f"{'kind':<16}{'n':>8}{'recall':>9}  95% CI")
    for kind, row in by_kind.items():
        print(f"{kind:<16}{row['n']:>8}{row['recall']:>9.3f}  {row['ci95']}")
    for kind, row in negatives.items():
        print(f"{kind:<16}{row['n']:>8}  false positives {row['false_positive_rate']:.4%}  {row['ci95']}")
    print(f"recall (the issue's kinds) {recall:.4f} {interval(tp, len(planted))}")
    print(
        f"recall (with the combined stress kind) {tp_all / len(planted_all):.4f} {interval(tp_all, len(planted_all))}"
    )
    print(f"precision {precision:.4f} {interval(tp_all, tp_all + fp)}")
    print(f"ours: {rate:,.0f} prompts/s ({ours_s:.1f} s, {args.workers} processes)")
    print(f"      {n / cpu_s:,.0f} prompts per CPU-second ({cpu_s:.1f} CPU-s): what each free core would do")
    print(f"brute force: {brute_rate:,.1f} prompts/s on a sample of {len(sample)}; ratio {rate / brute_rate:,.0f}x")
    print(f"agreement with brute force on the sample: {agree}/{len(sample)}")
    print(f"machine: {cpus} CPUs, 1-min load average {load} (shared with other jobs: timings are pessimistic)")
    print(
        json.dumps(
            {
                "recall": round(recall, 4),
                "recall_ci95": interval(tp, len(planted)),
                "precision": round(precision, 4),
                "precision_ci95": interval(tp_all, tp_all + fp),
                "recall_with_combined": round(tp_all / len(planted_all), 4),
                "recall_with_combined_ci95": interval(tp_all, len(planted_all)),
                "prompts_per_s": round(rate, 1),
                "ratio_vs_bruteforce": round(rate / brute_rate, 1),
                "bruteforce_prompts_per_s": round(brute_rate, 2),
                "bruteforce_agreement": [agree, len(sample)],
                "by_kind": by_kind,
                "negatives": negatives,
                "candidates": n,
                "gold": len(gold),
                "planted": len(planted_all),
                "threshold": args.threshold,
                "lsh": [_INDEX.lsh.b, _INDEX.lsh.r],
                "workers": args.workers,
                "seconds": round(ours_s, 2),
                "prompts_per_cpu_s": round(n / cpu_s, 1),
                "load_average": load,
                "smoke": args.smoke,
            }
        )
    )


if __name__ == "__main__":
    main()
