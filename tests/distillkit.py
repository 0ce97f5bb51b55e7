"""Builders for distillation tests: model specs, ready snapshots with soft targets, gold.

Snapshots are made directly (the snapshot builder lives on another branch); generation
rows carry real soft targets computed by the tiny teacher and stored in shards under
``settings.ARTIFACT_DIR``, exactly as teacher generation stores them.
"""

from __future__ import annotations

import hashlib

import pytest
import torch
from django.conf import settings
from transformers import AutoModelForCausalLM, AutoTokenizer

from curation.models import GoldItem, ModelSpec, Prompt, Snapshot, SnapshotRow
from curation.normalize import content_hash
from workers.prompting import render_prompt
from workers.softtargets import ShardWriter, SoftTargets, tail_logprob_from_topk

LABELS = ["billing", "account", "technical"]
TICKETS = [
    ("refund request", "billing"),
    ("cannot sign in", "account"),
    ("page does not load", "technical"),
    ("charged twice", "billing"),
    ("password reset email", "account"),
    ("error 500 on upload", "technical"),
]
GOLD_TICKETS = [
    ("double charge on invoice", "billing", "easy"),
    ("locked out after reset", "account", "easy"),
    ("app crashes in settings", "technical", "hard"),
]


def ticket_prompt(text: str) -> str:
    return f"Ticket: {text}\nCategory:"


def spec(
    project, role, path, *, name=None, tokenizer_path="", backend=ModelSpec.Backend.TRANSFORMERS, **kw
) -> ModelSpec:
    return ModelSpec.objects.create(
        project=project,
        role=role,
        path=str(path),
        name=name or f"{role}-{ModelSpec.objects.count()}",
        tokenizer_path=str(tokenizer_path),
        backend=backend,
        **kw,
    )


def _soft(teacher, tok, prompt: str, response: str, k: int = 8) -> SoftTargets:
    p = tok(render_prompt(tok, prompt), add_special_tokens=False).input_ids
    r = tok(response, add_special_tokens=False).input_ids + [tok.eos_token_id]
    with torch.no_grad():
        logits = teacher(torch.tensor([p + r])).logits[0, len(p) - 1 : -1]
    logp = torch.log_softmax(logits.float(), -1)
    vals, ids = logp.topk(k)
    return SoftTargets(
        token_ids=r, topk_ids=ids.numpy(), topk_logprobs=vals.numpy(), tail_logprob=tail_logprob_from_topk(vals.numpy())
    )


def snapshot(project, name, rows: list[dict], *, status=Snapshot.Status.READY, stage=None) -> Snapshot:
    digest = hashlib.sha256(
        repr([(r.get("prompt_text"), r.get("response"), r.get("label")) for r in rows]).encode()
    ).hexdigest()
    snap = Snapshot.objects.create(
        project=project,
        name=name,
        status=status,
        stage=stage,
        content_hash=digest,
        row_count=len(rows),
        train_count=sum(r.get("split", "train") == "train" for r in rows),
        validation_count=sum(r.get("split") == "validation" for r in rows),
    )
    SnapshotRow.objects.bulk_create(SnapshotRow(snapshot=snap, ordinal=i, **r) for i, r in enumerate(rows))
    return snap


def generation_snapshot(
    project, teacher_dir, name, *, tickets=TICKETS, repeat=2, n_val=2, tier="easy", stage=None, soft=True
) -> Snapshot:
    """Rows "Ticket: ...\\nCategory:" -> " <label>", with the teacher's top-k soft targets."""
    rows = []
    if soft:
        tok = AutoTokenizer.from_pretrained(teacher_dir)
        teacher = AutoModelForCausalLM.from_pretrained(teacher_dir)
        writer = ShardWriter(settings.ARTIFACT_DIR, prefix=f"test-{project.pk}")
    items = [(t, y) for t, y in tickets * repeat]
    keys = []
    for i, (text, label) in enumerate(items):
        row = {
            "prompt_text": ticket_prompt(text),
            "response": f" {label}",
            "tier": tier,
            "stage": name,
            "split": "validation" if i < n_val else "train",
        }
        if soft:
            key = f"{name.replace(' ', '_')}-{i}"
            writer.add(key, _soft(teacher, tok, row["prompt_text"], row["response"]))
            keys.append(key)
        rows.append(row)
    if soft:
        pointers = writer.flush()
        for row, key in zip(rows, keys):
            row["soft_targets"] = pointers[key]
    return snapshot(project, name, rows, stage=stage)


def classification_snapshot(project, name, *, tickets=TICKETS, repeat=2, n_val=3, tier="easy") -> Snapshot:
    rows = []
    for i, (text, label) in enumerate(tickets * repeat):
        dist = {other: (0.8 if other == label else 0.1) for other in LABELS}
        rows.append(
            {
                "prompt_text": ticket_prompt(text),
                "label": label,
                "label_distribution": dist,
                "tier": tier,
                "split": "validation" if i < n_val else "train",
            }
        )
    return snapshot(project, name, rows)


def gold(project, items=GOLD_TICKETS, *, classification=True, confirmed=True, purpose="test") -> list[GoldItem]:
    tiers = {t.name: t for t in project.tiers.all()}
    out = []
    for text, label, tier in items:
        prompt_text = ticket_prompt(text)
        prompt = Prompt.objects.create(project=project, text=prompt_text, content_hash=content_hash(prompt_text, None))
        out.append(
            GoldItem.objects.create(
                project=project,
                prompt=prompt,
                label=label if classification else "",
                reference="" if classification else f" {label}",
                tier=tiers.get(tier),
                confirmed=confirmed,
                purpose=purpose,
            )
        )
    return out


def stage(snapshot_obj, name=None, **settings_) -> dict:
    """One stage of a launch request."""
    out = {"snapshot": snapshot_obj.pk, "steps": 3, "lr": 1e-3}
    if name:
        out["name"] = name
    out.update(settings_)
    return out


# Fixtures for the distillation test modules (import them there: ``from tests.distillkit import artifacts, specs``).
@pytest.fixture(autouse=True)
def artifacts(settings, tmp_path):
    """A private artifact store (soft-target shards, job outputs, models) per test."""
    settings.ARTIFACT_DIR = tmp_path / "artifacts"
    settings.ARTIFACT_DIR.mkdir(exist_ok=True)
    return settings.ARTIFACT_DIR


@pytest.fixture
def specs(project, tiny_model_dir, tiny_student_dir):
    """(teacher, student) model specs of the tiny models, sharing a tokenizer."""
    return spec(project, "teacher", tiny_model_dir, name="tiny teacher"), spec(
        project, "student", tiny_student_dir, name="tiny student"
    )
