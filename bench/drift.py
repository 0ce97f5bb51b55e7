"""Drift detection on streamed windows of demo prompts, with and without a planted shift.

    python bench/drift.py [--window 100] [--reference 600] [--calibration 40] [--evaluation 60]
                          [--new-share 0.25] [--long-share 0.4] [--smoke]

The training set is ``--reference`` demo triage prompts (``workers.demo.corpus``, seed 0, the
labels as the snapshot would hold them). Production windows of ``--window`` prompts are streamed:
*clean* ones are fresh demo tickets (other seeds), *shifted* ones (``bench/_drift_shift.py``) hold
``--new-share`` tickets of a category the corpus never had (shipping; the production model answers
"other") and give ``--long-share`` of the rest a long backstory (a changed length profile). Each
window is scored by ``workers.drift.score_window`` (the drop of the mean all-MiniLM-L6-v2
nearest-neighbour similarity to the training set, searched in usearch; Kolmogorov-Smirnov length
shift; label shift; no student here, so no confidence signal).

Thresholds are chosen on ``--calibration`` clean windows only (``workers.drift.calibrate``: each
signal's ``1 - 0.05 / signals`` quantile), from seeds the evaluation never uses; then
``--evaluation`` clean and ``--evaluation`` shifted windows are scored and flagged.
``shifted_detected`` (share of shifted windows flagged) and ``false_alarms`` (share of clean
windows flagged) come with Wilson 95% intervals and their n, as does each signal alone, and the
marking of prompts for the queue's "drifted" filter in shifted windows: precision (marked prompts
that carry the planted shift) and recall (planted prompts marked), prompts counted one by one.

Throughput: prompts embedded per second by ``Embedder.encode`` (length-sorted batches of 64, what
the drift check uses) against the baseline of one prompt per forward pass (on half of the same
prompts), in the same run (``embed_ratio``). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from bench._drift_shift import clean_window, is_planted, shifted_window
from workers import drift as core
from workers.demo.corpus import generate_tickets, triage_prompt
from workers.hygiene.semantic import Embedder
from workers.stats import wilson

CALIBRATION_SEEDS = 10_000
EVALUATION_SEEDS = 20_000
SHIFT_SEEDS = 30_000


def _window(embedder, reference, prompts, labels):
    return core.score_window(reference, embedder.encode(reference.content(prompts)), prompts, labels)


def _score(embedder, reference, prompts, labels):
    return _window(embedder, reference, prompts, labels).scores


def _rate(flags: list[bool]) -> dict:
    interval = wilson(sum(flags), len(flags))
    return {
        "rate": round(interval.estimate, 4),
        "ci95": [round(interval.low, 4), round(interval.high, 4)],
        "n": len(flags),
    }


def _throughput(embedder, prompts: list[str]) -> dict:
    start = time.perf_counter()
    embedder.encode(prompts)
    ours = len(prompts) / (time.perf_counter() - start)
    sample = prompts[: max(1, len(prompts) // 2)]  # one forward per prompt is slow: half of them
    start = time.perf_counter()
    for p in sample:
        embedder.encode([p], batch_size=1)
    baseline = len(sample) / (time.perf_counter() - start)
    return {
        "prompts_per_s": round(ours, 1),
        "baseline_prompts_per_s": round(baseline, 1),
        "ratio": round(ours / baseline, 2),
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--reference", type=int, default=600)
    parser.add_argument("--calibration", type=int, default=40)
    parser.add_argument("--evaluation", type=int, default=60)
    parser.add_argument("--new-share", type=float, default=0.25)
    parser.add_argument("--long-share", type=float, default=0.4)
    parser.add_argument("--throughput-prompts", type=int, default=200)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks that it runs, measures nothing")
    args = parser.parse_args(argv)
    if args.smoke:
        args.window, args.reference, args.calibration, args.evaluation, args.throughput_prompts = 40, 120, 6, 4, 40

    started = time.perf_counter()
    embedder = Embedder()
    tickets = generate_tickets(args.reference, 0, "train")
    train_prompts = [triage_prompt(t.text) for t in tickets]
    affixes = core.common_affixes(train_prompts)
    reference = core.build_reference(
        embedder.encode(core.strip_affixes(train_prompts, affixes)),
        train_prompts,
        [t.label for t in tickets],
        affixes=affixes,
    )

    calibration = [
        _score(embedder, reference, *clean_window(args.window, CALIBRATION_SEEDS + i)) for i in range(args.calibration)
    ]
    thresholds = core.calibrate(calibration, false_alarm_rate=0.05)
    print(f"thresholds from {len(calibration)} clean calibration windows: {thresholds}", flush=True)

    clean = [
        _score(embedder, reference, *clean_window(args.window, EVALUATION_SEEDS + i)) for i in range(args.evaluation)
    ]
    shifted, marked, planted = [], [], []
    for i in range(args.evaluation):
        prompts, labels = shifted_window(args.window, SHIFT_SEEDS + i, args.new_share, args.long_share)
        window = _window(embedder, reference, prompts, labels)
        shifted.append(window.scores)
        marked += (window.novel | window.odd_length).tolist()
        planted += [is_planted(p) for p in prompts]
    # What a flagged window marks for the review queue's "drifted" filter, against what was planted.
    marking = {
        "precision": _rate([p for m, p in zip(marked, planted) if m]),
        "recall": _rate([m for m, p in zip(marked, planted) if p]),
    }
    detected = _rate([bool(core.flag(s, thresholds)) for s in shifted])
    alarms = _rate([bool(core.flag(s, thresholds)) for s in clean])
    by_signal = {
        name: {
            "shifted_detected": _rate([s.get(name, 0) >= limit for s in shifted]),
            "false_alarms": _rate([s.get(name, 0) >= limit for s in clean]),
            "mean_clean": round(float(np.mean([s.get(name, 0) for s in clean])), 4),
            "mean_shifted": round(float(np.mean([s.get(name, 0) for s in shifted])), 4),
        }
        for name, limit in thresholds.items()
    }
    speed = _throughput(embedder, clean_window(args.throughput_prompts, 99)[0])

    print(f"shifted windows flagged: {detected['rate']:.3f} {detected['ci95']} n={detected['n']} (target >= 0.95)")
    print(f"clean windows flagged:   {alarms['rate']:.3f} {alarms['ci95']} n={alarms['n']} (target <= 0.05)")
    for name, row in by_signal.items():
        print(
            f"  {name:10s} alone: detected {row['shifted_detected']['rate']:.3f}, false alarms "
            f"{row['false_alarms']['rate']:.3f}; mean score clean {row['mean_clean']}, shifted {row['mean_shifted']}"
        )
    for name, row in marking.items():
        print(f"marked prompts in shifted windows, {name}: {row['rate']:.3f} {row['ci95']} n={row['n']}")
    print(
        f"embedding: {speed['prompts_per_s']} prompts/s batched vs {speed['baseline_prompts_per_s']} one at a time "
        f"(x{speed['ratio']})"
    )
    result = {
        "shifted_detected": detected["rate"],
        "shifted_detected_ci95": detected["ci95"],
        "shifted_n": detected["n"],
        "false_alarms": alarms["rate"],
        "false_alarms_ci95": alarms["ci95"],
        "clean_n": alarms["n"],
        "thresholds": {k: round(v, 4) for k, v in thresholds.items()},
        "calibration_windows": len(calibration),
        "by_signal": by_signal,
        "marking": marking,
        "embed_prompts_per_s": speed["prompts_per_s"],
        "embed_baseline_prompts_per_s": speed["baseline_prompts_per_s"],
        "embed_ratio": speed["ratio"],
        "config": {
            "window": args.window,
            "reference": args.reference,
            "new_share": args.new_share,
            "long_share": args.long_share,
            "threads": os.cpu_count(),
        },
        "seconds": round(time.perf_counter() - started, 1),
        "smoke": args.smoke,
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
