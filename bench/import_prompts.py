"""Prompt import throughput: our bulk path against one save() per row.

    python bench/import_prompts.py [--rows 100000] [--smoke]

Uses the database named by DATABASE_URL (PostgreSQL is what the target is about:
100,000 prompts in under 30 s), else the embedded SQLite. The baseline is the
same validated rows stored with one Prompt.save() per row. Each run uses fresh
projects and deletes them afterwards.
"""

import argparse
import io
import json
import random
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _django


def make_file(rows, seed=0):
    rng = random.Random(seed)
    words = [
        "refund",
        "invoice",
        "password",
        "login",
        "crash",
        "error",
        "upload",
        "billing",
        "account",
        "shipping",
        "order",
        "app",
        "page",
    ]
    lines = []
    for i in range(rows):
        text = f"Ticket {i}: " + " ".join(rng.choice(words) for _ in range(rng.randint(8, 30)))
        lines.append(json.dumps({"prompt": text, "metadata": {"n": i, "lang": "en"}}))
    return ("\n".join(lines) + "\n").encode()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--baseline-rows", type=int, default=None, help="rows for the slow baseline (default: rows/10)")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    if args.smoke:
        args.rows, args.baseline_rows = 2000, 500
    baseline_rows = args.baseline_rows or max(1, args.rows // 10)
    _django.setup()
    from django.db import connection, transaction

    from curation.models import Project, Prompt
    from curation.normalize import content_hash
    from curation.services.datasets import import_prompts

    data = make_file(args.rows)
    ours = Project.create_with_defaults(name="bench import", slug=f"bench-import-{uuid.uuid4().hex[:8]}")
    base = Project.create_with_defaults(name="bench baseline", slug=f"bench-base-{uuid.uuid4().hex[:8]}")
    try:
        start = time.perf_counter()
        result = import_prompts(ours, io.BytesIO(data), filename="bench.jsonl", size=len(data))
        ours_s = time.perf_counter() - start
        assert result.created == args.rows, result.as_dict()

        lines = data.splitlines()[:baseline_rows]
        start = time.perf_counter()
        with transaction.atomic():
            for raw in lines:
                obj = json.loads(raw)
                Prompt(
                    project=base, text=obj["prompt"], metadata=obj["metadata"], content_hash=content_hash(obj["prompt"])
                ).save()
        base_s = time.perf_counter() - start
    finally:
        ours.delete()
        base.delete()

    ours_rate = args.rows / ours_s
    base_rate = baseline_rows / base_s
    ratio = ours_rate / base_rate
    print(f"database: {connection.vendor}")
    print(f"{'path':<28}{'rows':>10}{'seconds':>10}{'rows/s':>12}")
    print(f"{'ours (bulk, validated)':<28}{args.rows:>10}{ours_s:>10.2f}{ours_rate:>12.0f}")
    print(f"{'baseline (save per row)':<28}{baseline_rows:>10}{base_s:>10.2f}{base_rate:>12.0f}")
    print(f"ratio: {ratio:.1f}x; {args.rows} rows in {ours_s:.1f} s")
    print(
        json.dumps(
            {
                "database": connection.vendor,
                "rows": args.rows,
                "ours_seconds": round(ours_s, 3),
                "ours_rows_per_s": round(ours_rate, 1),
                "baseline_rows_per_s": round(base_rate, 1),
                "ratio": round(ratio, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
