"""Review queue at scale: keyset pages against OFFSET pages, and a bulk approval by filter.

    DATABASE_URL=postgres://... python bench/review_queue.py [--rows 1000000] [--requests 40]

Loads ``--rows`` examples (with their prompts and teacher samples) into a dedicated
project with COPY,
then measures in one run, through the full Django stack (test Client: middleware,
session, the view, the template):

- the queue page, filtered (pending, hard tier, hardest first), at page 1 and at a deep
  page (90% of the way through the filter), with keyset pagination (the product) and
  with OFFSET pagination (the baseline: the same view with ``keyset_page`` swapped for
  an OFFSET slice), p50/p95 over ``--requests`` requests each;
- bulk-approving every pending example of one stage (100,000 at the default size) by
  filter through the bulk view, against the baseline of approving one example at a
  time with ``services.review.approve`` (measured on a sample, extrapolated).

PostgreSQL only (it refuses SQLite). Leftovers of a killed run are removed first and
everything is removed at the end, so it can be run again.
"""

import argparse
import hashlib
import json
import math
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _django

SLUG = "bench-review-queue"
USERNAME = "bench-reviewer"
FILTER = "status=pending&tier=hard&order=-difficulty"
PAGE = 50
WORDS = [
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
    "charge",
    "card",
    "locked",
    "reset",
    "email",
    "slow",
    "timeout",
    "delivery",
    "address",
    "cancel",
    "plan",
]


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


TABLES = ("curation_verdict", "curation_bulkaction", "curation_example", "curation_teachersample", "curation_prompt")


def remove_project(connection):
    """Delete the bench's project and VACUUM, so a next run does not measure this run's dead rows."""
    from curation.models import Project

    project = Project.objects.filter(slug=SLUG).first()
    if project is not None:
        with connection.cursor() as cursor:  # set-based: a million ORM deletes would take longer than the bench
            for table in ("curation_verdict", "curation_bulkaction", "curation_example"):
                cursor.execute(f"DELETE FROM {table} WHERE project_id = %s", [project.id])
            cursor.execute(
                "DELETE FROM curation_teachersample WHERE prompt_id IN "
                "(SELECT id FROM curation_prompt WHERE project_id = %s)",
                [project.id],
            )
            cursor.execute("DELETE FROM curation_prompt WHERE project_id = %s", [project.id])
        project.delete()
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"VACUUM {table}")


def load(connection, project, rows, bulk_rows, seed=0):
    """COPY ``rows`` prompts, teacher samples and examples; ``bulk_rows`` pending ones sit in stage 1."""
    rng = random.Random(seed)
    tiers = list(project.tiers.order_by("order").values_list("id", flat=True))
    stages = {s.name: s.id for s in project.stages.all()}
    raw = connection.connection  # the psycopg 3 connection under Django's wrapper
    started = time.perf_counter()
    with raw.cursor() as cursor:
        texts = [f"Ticket {i}: " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 24))) for i in range(rows)]
        _django.copy_prompts(cursor, project.id, ((t, hashlib.sha256(t.encode()).hexdigest(), "now") for t in texts))
        cursor.execute("SELECT id FROM curation_prompt WHERE project_id = %s ORDER BY id", [project.id])
        prompt_ids = [r[0] for r in cursor.fetchall()]
        responses = ["Reply: " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(10, 40))) for _ in prompt_ids]
        stats = [
            (math.log(rng.uniform(0.2, 0.99)), rng.uniform(0.1, 3.0), rng.uniform(0, 5), rng.randint(10, 200))
            for _ in prompt_ids
        ]
        sample_columns = (
            "prompt_id, sample_index, scored, text, token_count, finish_reason, mean_logprob, "
            "mean_entropy, min_margin, check_results, checks_passed, soft_targets, predicted_label, "
            "error, created_at"
        )
        with cursor.copy(f"COPY curation_teachersample ({sample_columns}) FROM STDIN") as copy:
            for prompt_id, text, (logprob, entropy, margin, tokens) in zip(prompt_ids, responses, stats, strict=True):
                copy.write_row(
                    (prompt_id, 0, False, text, tokens, "eos", logprob, entropy, margin, "[]", True, "", "", "", "now")
                )
        cursor.execute(
            "SELECT s.id FROM curation_teachersample s JOIN curation_prompt p ON p.id = s.prompt_id "
            "WHERE p.project_id = %s ORDER BY s.prompt_id",
            [project.id],
        )
        sample_ids = [r[0] for r in cursor.fetchall()]
        columns = (
            "project_id, prompt_id, sample_id, response, original_response, edited, label, status, approvals, "
            "conflict, tier_id, tier_locked, stage_id, grade, version, source, difficulty, mean_logprob, "
            "mean_entropy, min_margin, token_count, soft_targets, checks_failed, failed_checks, created_at, "
            "updated_at"
        )
        step = rows // bulk_rows
        with cursor.copy(f"COPY curation_example ({columns}) FROM STDIN") as copy:
            for i, (prompt_id, sample_id) in enumerate(zip(prompt_ids, sample_ids, strict=True)):
                in_bulk_stage = i % step == 0 and i // step < bulk_rows
                status = (
                    "pending" if in_bulk_stage else rng.choices(["pending", "approved", "rejected"], [80, 15, 5])[0]
                )
                stage = stages["stage 1"] if in_bulk_stage else stages["pool"]
                tier = None if rng.random() < 0.1 else rng.choice(tiers)
                failed = rng.random() < 0.05
                logprob, entropy, margin, tokens = stats[i]
                copy.write_row(
                    (
                        # Unedited: the response is the sample's text, held there once (response and
                        # original_response stay blank until an edit), as the product stores it.
                        project.id,
                        prompt_id,
                        sample_id,
                        "",
                        "",
                        False,
                        "",
                        status,
                        1 if status == "approved" else 0,
                        False,
                        tier,
                        False,
                        stage,
                        None,
                        1,
                        "imported",
                        rng.random(),
                        logprob,
                        entropy,
                        margin,
                        tokens,
                        "",
                        failed,
                        '["max_length"]' if failed else "[]",
                        "now",
                        "now",
                    )
                )
        for table in ("curation_prompt", "curation_teachersample", "curation_example"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    return time.perf_counter() - started


def offset_page(queryset, order, after=None, size=50):
    """The baseline: the same page, found with OFFSET (``after`` is the row offset).

    Plain ORDER BY on the indexed columns (the bench has no NULL sort values), so the
    baseline walks the same index as keyset pagination and differs only by OFFSET.
    """
    from curation.services.review import ORDERINGS, Page

    field, desc = ORDERINGS[order]
    offset = int(after or 0)
    items = list(queryset.order_by(f"-{field}" if desc else field, "-id" if desc else "id")[offset : offset + size + 1])
    more = len(items) > size
    return Page(items[:size], str(offset + size) if more else None, order)


def timed_requests(client, url, n, warmup=5):
    for _ in range(warmup):
        assert client.get(url).status_code == 200
    times = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.status_code
    return times


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--baseline-rows", type=int, default=1000, help="examples approved one by one (baseline)")
    args = parser.parse_args()
    _django.setup(require_postgres=True)
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.http import QueryDict
    from django.test import Client
    from django.urls import reverse

    import curation.pages.queue as queue_view
    from curation.models import Example, Membership, Project
    from curation.services import review
    from curation.services.review import cursor_at, filtered_examples, keyset_page

    settings.DEBUG = False  # no query log: measure the product, not the debug cursor
    bulk_rows = min(100_000, max(1, args.rows // 10))
    remove_project(connection)
    user, _ = get_user_model().objects.get_or_create(username=USERNAME)
    project = Project.create_with_defaults(name="Bench review queue", slug=SLUG)
    Membership.objects.create(user=user, project=project, role="reviewer")
    try:
        load_s = load(connection, project, args.rows, bulk_rows)
        client = Client()
        client.force_login(user)
        base = reverse("review-queue", args=[SLUG])

        queryset, _ = filtered_examples(project, QueryDict(FILTER))
        matching = queryset.count()
        depth = max(0, int(matching * 0.9) - PAGE)
        anchor = queryset.order_by("-difficulty", "-id")[depth - 1] if depth else None
        cursor = cursor_at(anchor, "-difficulty") if anchor else None
        deep_keyset = keyset_page(queue_view.queue_rows(queryset), "-difficulty", cursor, PAGE).items

        results = {}
        results["keyset_first"] = timed_requests(client, f"{base}?{FILTER}", args.requests)
        results["keyset_deep"] = timed_requests(
            client, f"{base}?{FILTER}&after={cursor}" if cursor else f"{base}?{FILTER}", args.requests
        )
        queue_view.keyset_page = offset_page
        try:
            deep_offset = offset_page(queue_view.queue_rows(queryset), "-difficulty", depth, PAGE).items
            assert [e.id for e in deep_offset] == [e.id for e in deep_keyset], "baseline and keyset pages differ"
            results["offset_first"] = timed_requests(client, f"{base}?{FILTER}", args.requests)
            # Seconds per request: a few are enough for its p95.
            results["offset_deep"] = timed_requests(client, f"{base}?{FILTER}&after={depth}", min(args.requests, 20), 2)
        finally:
            queue_view.keyset_page = keyset_page

        bulk_filter = "stage=stage+1&status=pending"
        expected = Example.objects.filter(project=project, stage__name="stage 1", status="pending").count()
        assert expected == bulk_rows, (expected, bulk_rows)
        statements = {}

        def time_statement(execute, sql, params, many, context):
            began = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                kind = sql.lstrip().split(None, 1)[0].upper()
                statements[kind] = statements.get(kind, 0) + time.perf_counter() - began

        start = time.perf_counter()
        with connection.execute_wrapper(time_statement):
            response = client.post(
                reverse("review-bulk", args=[SLUG]) + f"?{bulk_filter}",
                {"action": "approve", "expected": str(expected)},
            )
        bulk_s = time.perf_counter() - start
        assert response.status_code == 302, response.status_code
        assert Example.objects.filter(project=project, stage__name="stage 1", status="approved").count() == bulk_rows

        sample = list(
            Example.objects.filter(project=project, stage__name="pool", status="pending").order_by("id")[
                : args.baseline_rows
            ]
        )
        start = time.perf_counter()
        for example in sample:
            review.approve(example, user, example.version)
        one_by_one_s = (time.perf_counter() - start) / len(sample) * bulk_rows
    finally:
        remove_project(connection)
        get_user_model().objects.filter(username=USERNAME).delete()

    p = {name: (statistics.median(t), percentile(t, 0.95)) for name, t in results.items()}
    page_no = depth // PAGE + 1
    print(
        f"database: PostgreSQL · {args.rows:,} examples loaded with COPY in {load_s:.1f} s · filter {FILTER} "
        f"matches {matching:,}; deep page = page {page_no:,} (row {depth:,})"
    )
    print(f"{'queue page (full response)':<34}{'p50 ms':>10}{'p95 ms':>10}")
    for name, label in (
        ("keyset_first", "keyset, page 1"),
        ("keyset_deep", f"keyset, page {page_no:,}"),
        ("offset_first", "OFFSET, page 1"),
        ("offset_deep", f"OFFSET, page {page_no:,}"),
    ):
        print(f"{label:<34}{p[name][0]:>10.1f}{p[name][1]:>10.1f}")
    ratio = p["offset_deep"][1] / p["keyset_deep"][1]
    print(f"deep page p95: OFFSET / keyset = {ratio:.1f}x")
    # PostgreSQL applies it as "WITH moved AS (UPDATE ...) INSERT INTO verdict" statements, one per
    # status the rows can have before; the two-statement path (INSERT of the audit rows, then
    # UPDATE) only runs after a race.
    written = sum(statements.get(kind, 0) for kind in ("WITH", "INSERT", "UPDATE"))
    rest = bulk_s - written
    print(
        f"bulk approve by filter, {bulk_rows:,} examples: {bulk_s:.2f} s through the view (UPDATE + audit rows "
        f"{written:.2f} s, the rest: the count, the BulkAction row and COMMIT, {rest:.2f} s); "
        f"one by one (review.approve, {len(sample):,} measured) would take {one_by_one_s:.1f} s: "
        f"{one_by_one_s / bulk_s:.0f}x"
    )
    print(
        json.dumps(
            {
                "rows": args.rows,
                "matching": matching,
                "deep_page": page_no,
                "keyset_p50_ms_first": round(p["keyset_first"][0], 1),
                "keyset_p95_ms_first": round(p["keyset_first"][1], 1),
                "keyset_p50_ms_deep": round(p["keyset_deep"][0], 1),
                "keyset_p95_ms_deep": round(p["keyset_deep"][1], 1),
                "offset_p95_ms_first": round(p["offset_first"][1], 1),
                "offset_p95_ms_deep": round(p["offset_deep"][1], 1),
                "deep_ratio": round(ratio, 1),
                "bulk_rows": bulk_rows,
                "bulk_100k_s": round(bulk_s, 2),
                "bulk_write_s": round(written, 2),
                "bulk_commit_s": round(rest, 2),
                "one_by_one_s": round(one_by_one_s, 1),
                "load_s": round(load_s, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
