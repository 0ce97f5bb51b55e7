"""A message really travels broker -> worker process -> result backend through Redis."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from celery import Celery

from tests.conftest import require_service

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.redis
@pytest.mark.slow  # starts a real Celery worker process
@pytest.mark.xdist_group("real_worker")  # with the other worker-process tests (tests/conftest.py)
def test_a_task_round_trips_through_redis_with_a_real_worker(tmp_path):
    url = require_service("REDIS_URL")
    queue = f"roundtrip-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "CELERY_BROKER_URL": url, "CELERY_RESULT_BACKEND": url, "DATA_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)  # the ping task needs no database
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "webapp",
            "worker",
            "-Q",
            queue,
            "--pool",
            "solo",
            "-n",
            f"{queue}@%h",
            "--loglevel",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    client = Celery(broker=url, backend=url)
    try:
        result = client.send_task("workers.tasks.health.ping", args=["hello"], queue=queue)
        assert result.get(timeout=90) == {"pong": "hello"}
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
        client.close()
