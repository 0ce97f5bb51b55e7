"""The README's API snippets, cut out of README.md by their markers and run against a live server."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curation.models import ApiToken
from curation.services.datasets import snapshot_job, snapshots
from tests.factories import ExampleFactory, MembershipFactory, PromptFactory, UserFactory

README = Path(__file__).resolve().parents[2] / "README.md"
SNIPPET = re.compile(r"<!-- snippet: (?P<name>[\w-]+) -->\s*```\w*\n(?P<code>.*?)```\s*<!-- /snippet -->", re.S)


def snippets() -> dict[str, str]:
    found = {m["name"]: m["code"] for m in SNIPPET.finditer(README.read_text())}
    assert set(found) == {"curl", "python-requests", "python-datasets"}, sorted(found)
    return found


@pytest.fixture
def served(live_server, project, settings, tmp_path):
    settings.ARTIFACT_DIR = tmp_path / "artifacts"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    reader = UserFactory(username="pipeline")
    MembershipFactory(user=reader, project=project, role="reader")
    engineer = UserFactory(username="erin")
    MembershipFactory(user=engineer, project=project, role="engineer")
    stage = project.stages.get(name="stage 1")
    for i in range(30):
        ExampleFactory(
            prompt=PromptFactory(project=project, text=f"Ticket {i}: my invoice is wrong"),
            response=f"Reply {i}: we fixed the invoice.",
            status="approved",
            stage=stage,
        )
    snap = snapshot_job.build_snapshot(
        snapshots.start_snapshot(
            project, engineer, name="readme", stage="stage 1", validation_fraction=0.3, launch=False
        )
    )
    workdir = tmp_path / "client"
    workdir.mkdir()
    env = {
        **os.environ,
        "CC_URL": live_server.url,
        "CC_TOKEN": ApiToken.issue(reader, "readme")[1],
        "CC_PROJECT": project.slug,
        "CC_SNAPSHOT": str(snap.pk),
        "HF_HOME": str(tmp_path / "hf"),
        "HF_DATASETS_CACHE": str(tmp_path / "hf" / "datasets"),
    }
    return snap, workdir, env


def run(args, workdir, env):
    out = subprocess.run(args, cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


@pytest.mark.django_db(transaction=True)
def test_the_readme_snippets_pull_a_snapshot_from_a_live_server(served):
    snap, workdir, env = served
    code = snippets()

    listing = run(["bash", "-euo", "pipefail", "-c", code["curl"]], workdir, env)
    assert snap.content_hash in listing
    assert json.loads((workdir / "manifest.json").read_text())["content_hash"] == snap.content_hash
    train = (workdir / "train.jsonl").read_bytes()
    assert train.count(b"\n") == snap.train_count and json.loads(train.split(b"\n")[0])["split"] == "train"
    chat = [json.loads(line) for line in (workdir / "validation.chat.jsonl").read_text().split("\n")[:-1]]
    assert len(chat) == snap.validation_count and chat[0]["messages"][-1]["role"] == "assistant"

    # -C - picks up where an interrupted download stopped, and the bytes come out the same.
    (workdir / "train.jsonl").write_bytes(train[: len(train) // 3])
    run(["bash", "-euo", "pipefail", "-c", code["curl"]], workdir, env)
    assert (workdir / "train.jsonl").read_bytes() == train

    printed = run([sys.executable, "-c", code["python-requests"]], workdir, env)
    assert snap.content_hash in printed
    assert pq.read_table(workdir / "train.parquet").num_rows == snap.train_count
    assert pq.read_table(workdir / "validation.parquet").num_rows == snap.validation_count

    printed = run([sys.executable, "-c", code["python-datasets"]], workdir, env)
    assert f"num_rows: {snap.train_count}" in printed and f"num_rows: {snap.validation_count}" in printed
    assert "-> Reply" in printed and f"{snap.train_count} JSONL rows" in printed
