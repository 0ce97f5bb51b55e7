"""Snapshot download throughput: our streaming JSONL over HTTP against PostgreSQL's own COPY.

    DATABASE_URL=postgres://... python bench/export.py [--rows 1000000]

1. Loads ``--rows`` approved examples (and their prompts) with COPY (psycopg 3
   ``cursor.copy``) into a fresh project of the database named by DATABASE_URL
   (PostgreSQL only: it refuses SQLite).
2. Builds a snapshot of them with the real builder (freeze, hash, files).
3. Starts the real server (gunicorn, one gthread worker, DEBUG=0) as a subprocess and
   downloads the whole snapshot as JSONL over HTTP with a token:
   - **ours (database)**: the snapshot's files moved away, so every byte is built by
     the database and streamed through Django (what a web server without the workers'
     ARTIFACT_DIR does; the path the 1,000,000-row target is about);
   - ours (file): the same download served from the built files, for reference.
4. Baseline, in the same run: ``COPY (SELECT <the same JSON lines> ...) TO STDOUT`` read
   straight from PostgreSQL through psql (libpq; psycopg when psql is missing): the
   same bytes, with no HTTP and no Django.
   (A second baseline, COPY of the two text columns alone, is printed for context.)

Peak RSS is the gunicorn worker's VmHWM (/proc) after the downloads. Every run uses a
new project and deletes it (and any a killed run left) afterwards, so it is re-runnable.
The last line is one JSON object with the figures.
"""

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _django

ROOT = Path(__file__).resolve().parent.parent
SLUG_PREFIX = "bench-export-"
WORDS = [
    "invoice",
    "refund",
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
    "payment",
    "card",
    "address",
    "delivery",
    "subscription",
    "cancel",
    "plan",
    "upgrade",
    "email",
    "reset",
]


def sentence(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n))


def cleanup(connection, log=print):
    """Delete every bench project (rows first, with plain SQL: the ORM would load a million objects)."""
    from curation.models import Project, Snapshot
    from curation.services.datasets import snapshot_dir

    projects = list(Project.objects.filter(slug__startswith=SLUG_PREFIX).values_list("id", flat=True))
    if not projects:
        return
    for content_hash in (
        Snapshot.objects.filter(project_id__in=projects).exclude(content_hash="").values_list("content_hash", flat=True)
    ):
        shutil.rmtree(snapshot_dir(content_hash), ignore_errors=True)
    with connection.cursor() as cursor:
        for sql in (
            "DELETE FROM curation_snapshotrow WHERE snapshot_id IN (SELECT id FROM curation_snapshot WHERE "
            "project_id = ANY(%s))",
            "DELETE FROM curation_snapshot WHERE project_id = ANY(%s)",
            "DELETE FROM curation_verdict WHERE project_id = ANY(%s)",
            "DELETE FROM curation_example WHERE project_id = ANY(%s)",
            "DELETE FROM curation_golditem WHERE project_id = ANY(%s)",
            "DELETE FROM curation_prompt WHERE project_id = ANY(%s)",
        ):
            cursor.execute(sql, [projects])
    Project.objects.filter(id__in=projects).delete()
    log(f"removed {len(projects)} bench project(s)")


def load(connection, project, stage, rows, seed=0):
    """COPY ``rows`` prompts and one approved example for each; returns seconds."""
    from curation.normalize import content_hash

    rng = random.Random(seed)
    started = time.perf_counter()
    raw = connection.connection
    with raw.cursor() as cursor:
        texts = [f"Ticket {i}: {sentence(rng, rng.randint(12, 30))}?" for i in range(rows)]
        _django.copy_prompts(cursor, project.id, ((t, content_hash(t), "2026-11-25T12:00:00Z") for t in texts))
        cursor.execute("SELECT id FROM curation_prompt WHERE project_id = %s ORDER BY id", [project.id])
        prompt_ids = [r[0] for r in cursor.fetchall()]
        columns = (
            "project_id, prompt_id, stage_id, response, original_response, edited, label, status, approvals, "
            "conflict, tier_locked, grade, version, source, difficulty, token_count, checks_failed, failed_checks, "
            "soft_targets, created_at, updated_at"
        )
        with cursor.copy(f"COPY curation_example ({columns}) FROM STDIN") as copy:
            for prompt_id in prompt_ids:
                answer = f"Thanks for writing. {sentence(rng, rng.randint(15, 40))}."
                # Unedited: the text is held once (original_response stays blank until an edit).
                copy.write_row(
                    (
                        project.id,
                        prompt_id,
                        stage.id,
                        answer,
                        "",
                        False,
                        "",
                        "approved",
                        1,
                        False,
                        False,
                        rng.randint(1, 5),
                        2,
                        "imported",
                        rng.random(),
                        40,
                        False,
                        "[]",
                        "",
                        "2026-11-25T12:00:00Z",
                        "2026-11-25T12:00:00Z",
                    )
                )
    raw.commit()
    return time.perf_counter() - started


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port, log_path):
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "bench-" + uuid.uuid4().hex,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        # Plain http on the loopback: production mode would redirect every request to https.
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_HSTS_SECONDS": "0",
    }
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "webapp.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--worker-class",
                "gthread",
                "--threads",
                "4",
                "--timeout",
                "900",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
    import requests

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"gunicorn exited with {server.returncode}:\n{Path(log_path).read_text()[-3000:]}")
        try:
            requests.get(f"http://127.0.0.1:{port}/api/v1/projects/", timeout=10)
            return server
        except requests.RequestException:
            time.sleep(0.5)
    stop_server(server)
    sys.exit(f"gunicorn did not answer within 180 s:\n{Path(log_path).read_text()[-3000:]}")


def stop_server(server):
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(server.pid, signal.SIGKILL)


def worker_pid(server):
    import psutil

    children = psutil.Process(server.pid).children()
    if not children:
        sys.exit("gunicorn has no worker process")
    return children[0].pid


def peak_rss_mb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc status")


def download(url, token):
    """(rows, bytes, seconds, sha256) of one GET, read in 1 MB blocks as sent (no decoding)."""
    import requests

    digest, rows, size = hashlib.sha256(), 0, 0
    started = time.perf_counter()
    with requests.get(
        url, headers={"Authorization": f"Bearer {token}", "Accept-Encoding": "identity"}, stream=True, timeout=900
    ) as response:
        response.raise_for_status()
        while block := response.raw.read(1 << 20):
            rows += block.count(b"\n")
            size += len(block)
            digest.update(block)
    return rows, size, time.perf_counter() - started, digest.hexdigest()


def copy_baseline(connection, sql):
    """(rows, bytes, seconds, sha256) of COPY (sql) TO STDOUT.

    Through psql when it is installed (libpq in C, read here in 1 MB blocks, like the
    HTTP download), else through psycopg (which hands Python one row at a time).
    """
    digest, rows, size = hashlib.sha256(), 0, 0
    psql = shutil.which("psql")
    started = time.perf_counter()
    if psql:
        text = sql.as_string(connection.connection)
        with subprocess.Popen(
            [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", os.environ["DATABASE_URL"], "-c", text], stdout=subprocess.PIPE
        ) as proc:
            while block := proc.stdout.read(1 << 20):
                rows += block.count(b"\n")
                size += len(block)
                digest.update(block)
        if proc.returncode:
            sys.exit(f"psql failed with {proc.returncode}")
    else:
        with connection.connection.cursor() as cursor, cursor.copy(sql) as copy:
            for data in copy:
                rows += 1
                size += len(data)
                digest.update(data)
    return rows, size, time.perf_counter() - started, digest.hexdigest()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--validation-fraction", type=float, default=0.1)
    args = parser.parse_args()
    if args.rows < 1:
        sys.exit("--rows must be at least 1")
    _django.setup(require_postgres=True)
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from psycopg import sql as pgsql

    from curation.models import ApiToken, Membership, Project
    from curation.services import datasets

    cleanup(connection)
    project = Project.create_with_defaults(name="Export bench", slug=f"{SLUG_PREFIX}{uuid.uuid4().hex[:8]}")
    user = get_user_model().objects.create(username=f"bench-{project.slug}")
    Membership.objects.create(user=user, project=project, role="engineer")
    stage = project.stages.get(name="stage 1")
    server = None
    try:
        load_s = load(connection, project, stage, args.rows)
        print(f"loaded {args.rows:,} approved examples with COPY in {load_s:.1f} s")

        started = time.perf_counter()
        snap = datasets.start_snapshot(
            project, user, name="bench", stage="stage 1", validation_fraction=args.validation_fraction, launch=False
        )
        snap = datasets.build_snapshot(snap)
        build_s = time.perf_counter() - started
        assert snap.row_count == args.rows, (snap.row_count, snap.excluded)
        print(f"built snapshot {snap.content_hash[:12]} ({snap.row_count:,} rows, files included) in {build_s:.1f} s")

        token = ApiToken.issue(user, "bench")[1]
        port = free_port()
        server = start_server(port, settings.DATA_DIR / "bench-export-gunicorn.log")
        url = f"http://127.0.0.1:{port}/api/v1/projects/{project.slug}/snapshots/{snap.pk}/download/?format=jsonl"

        directory = datasets.snapshot_dir(snap.content_hash)
        aside = directory.with_name(directory.name + ".aside")
        directory.rename(aside)
        try:
            ours = download(url, token)
        finally:
            aside.rename(directory)
        from_file = download(url, token)
        rss = peak_rss_mb(worker_pid(server))

        baseline = copy_baseline(connection, datasets.copy_statement(snap, "jsonl", None))
        plain = copy_baseline(
            connection,
            pgsql.SQL(
                "COPY (SELECT prompt_text, response FROM curation_snapshotrow WHERE snapshot_id = {} ORDER BY "
                "split, row_hash) TO STDOUT"
            ).format(pgsql.Literal(snap.pk)),
        )
    finally:
        if server is not None:
            stop_server(server)
        cleanup(connection, log=lambda *_: None)

    assert ours[0] == from_file[0] == baseline[0] == args.rows, (ours[0], from_file[0], baseline[0])
    assert ours[3] == from_file[3] == baseline[3], "the three paths must deliver the same bytes"
    rate = {
        name: r[0] / r[2] for name, r in (("ours", ours), ("file", from_file), ("copy", baseline), ("plain", plain))
    }
    ratio = rate["ours"] / rate["copy"]
    print(f"{'path':<46}{'rows':>11}{'MB':>9}{'seconds':>9}{'rows/s':>11}")
    for label, key, r in (
        ("ours: HTTP stream built by the database", "ours", ours),
        ("ours: HTTP from the built file (sendfile)", "file", from_file),
        ("baseline: COPY (SELECT same JSON lines)", "copy", baseline),
        ("context: COPY (SELECT prompt, response) text", "plain", plain),
    ):
        print(f"{label:<46}{r[0]:>11,}{r[1] / 1e6:>9.1f}{r[2]:>9.2f}{rate[key]:>11,.0f}")
    print(f"ratio ours/COPY: {ratio:.2f} (target >= 0.5); gunicorn worker peak RSS {rss:.0f} MB (target < 300)")
    print(
        json.dumps(
            {
                "rows": args.rows,
                "ours_rows_per_s": round(rate["ours"], 1),
                "copy_rows_per_s": round(rate["copy"], 1),
                "ratio": round(ratio, 3),
                "peak_rss_mb": round(rss, 1),
                "file_rows_per_s": round(rate["file"], 1),
                "bytes": ours[1],
                "load_s": round(load_s, 2),
                "build_s": round(build_s, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
