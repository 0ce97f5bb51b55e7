"""Demo data for `make demo`: users, the two support-ticket projects, their prompts,
the locally trained teacher and student, and the teacher's first generation jobs.

Idempotent: a second run finds everything in place (the teacher is cached under
``DATA_DIR/demo``) and only starts the servers.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from curation.models import Job, Membership, ModelSpec, Project

DEMO_PASSWORD = "demo-password"
DEMO_USERS = [("reviewer", "reviewer"), ("engineer", "engineer")]
TRIAGE_LABELS = ["billing", "account", "technical", "other"]
# Training prompts and gold items per project. Triage needs a couple of thousand
# teacher-labelled tickets for a 0.26M-parameter student to keep the teacher's accuracy.
SIZES = {"triage": (2000, 200), "drafting": (600, 100)}
GENERATION = {
    "triage": {},
    "drafting": {"n": 2, "temperature": 0.7, "top_p": 0.95, "max_new_tokens": 64, "seed": 0},
}
TEACHER_BUDGET_S = 150
# The triage student's distillation recipe, pre-filled by the launch form (the student
# spec's defaults["distill"]); bench/demo.py measures what it reaches. Tuned with
# bench/demo.py against a 91% teacher (2000 tickets, stage 1 easy, stage 2 medium + hard):
# alpha 0.7 / T 2 plateaued at 85-86% gold accuracy whatever the epochs (3-10) or data
# (4000 tickets); the teacher's whole label distribution at T 4 for 10 epochs reached 90.5%.
DISTILL = {
    "triage": {
        "batch_size": 32,
        "max_seq_len": 256,
        "stage": {
            "epochs": 10,
            "lr": 3e-3,
            "warmup_steps": 10,
            "temperature": 4.0,
            "alpha": 1.0,
            "replay_fraction": 0.2,
        },
    },
}
GUIDELINES = {
    "triage": (
        "## Triage guidelines\n\n- **billing**: charges, refunds, invoices, payment methods.\n"
        "- **account**: sign-in, passwords, 2FA, locked or deleted accounts.\n"
        "- **technical**: crashes, errors, bugs, performance.\n- **other**: everything else.\n\n"
        "When a ticket mixes intents, the label is the customer's main request."
    ),
    "drafting": (
        "## Reply guidelines\n\n- Polite, 1-3 sentences, no promises we cannot keep.\n"
        "- Address the customer's actual problem; ask for the order number when needed.\n"
        "- Reject replies that are off-topic, rude or invented."
    ),
}


def demo_dir() -> Path:
    return Path(settings.DATA_DIR) / "demo"


def _users():
    users = get_user_model().objects
    made = {}
    for username, _role in DEMO_USERS:
        user, created = users.get_or_create(username=username)
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        made[username] = user
    return made


@transaction.atomic
def _project(slug, name, task_type, labels, guidelines, users):
    project = Project.objects.filter(slug=slug).first()
    if project is None:
        project = Project.create_with_defaults(
            slug=slug, name=name, task_type=task_type, labels=labels, guidelines=guidelines
        )
    for username, role in DEMO_USERS:
        Membership.objects.get_or_create(user=users[username], project=project, defaults={"role": role})
    return project


def _prompt_lines(kind, n_train, n_gold):
    """JSONL import lines for the demo projects, from the ticket generator."""
    from workers.demo import corpus

    train = corpus.generate_tickets(n_train, seed=1, split="train")
    gold = corpus.generate_tickets(n_gold, seed=2, split="gold")
    lines = []
    for t in train:
        prompt = corpus.triage_prompt(t.text) if kind == "triage" else corpus.drafting_prompt(t.text)
        lines.append({"prompt": prompt, "metadata": {"template": t.template_id, "ambiguous": t.ambiguous}})
    for t in gold:
        if kind == "triage":
            lines.append({"prompt": corpus.triage_prompt(t.text), "label": t.label})
        else:
            lines.append({"prompt": corpus.drafting_prompt(t.text), "reference": t.reply})
    return "\n".join(json.dumps(line) for line in lines).encode()


def build_demo_models(log=print, budget_s: float | None = None) -> dict:
    """Train (or reuse) the demo teacher and a fresh student sharing its tokenizer."""
    from workers.demo.student import INFO_FILE, STUDENT_ARCH, build_demo_student
    from workers.demo.teacher import build_demo_teacher

    budget = budget_s or float(os.environ.get("DEMO_TEACHER_BUDGET_S", TEACHER_BUDGET_S))
    teacher_dir, student_dir = demo_dir() / "teacher", demo_dir() / "student"
    teacher = build_demo_teacher(teacher_dir, time_budget_s=budget, log=log)
    try:
        student_arch = json.loads((student_dir / INFO_FILE).read_text()).get("architecture")
    except (OSError, ValueError):
        student_arch = None
    if not teacher["cached"] or student_arch != STUDENT_ARCH:
        student = build_demo_student(teacher_dir, student_dir)
        log(
            f"demo student: {student['parameters'] / 1e6:.2f}M parameters, "
            f"{student['latency_ratio']:.1f}x faster forward pass than the teacher"
        )
    return {"teacher_dir": teacher_dir, "student_dir": student_dir, "teacher": teacher}


def register_demo_specs(project, models) -> tuple[ModelSpec, ModelSpec]:
    teacher, _ = ModelSpec.objects.update_or_create(
        project=project,
        name="demo teacher",
        defaults={
            "role": ModelSpec.Role.TEACHER,
            "backend": ModelSpec.Backend.TRANSFORMERS,
            "path": str(models["teacher_dir"]),
            "defaults": GENERATION["triage" if project.is_classification else "drafting"],
        },
    )
    student, _ = ModelSpec.objects.update_or_create(
        project=project,
        name="demo student",
        defaults={
            "role": ModelSpec.Role.STUDENT,
            "backend": ModelSpec.Backend.TRANSFORMERS,
            "path": str(models["student_dir"]),
            "defaults": {"distill": DISTILL["triage"]} if project.is_classification else {},
        },
    )
    return teacher, student


def queue_demo_generation(project, teacher: ModelSpec, engineer, log=print) -> Job | None:
    """The teacher's first pass over the project's prompts, unless one already ran or runs."""
    from curation.services.teacher import launch_generation

    if (
        project.jobs.filter(kind=Job.Kind.GENERATE)
        .exclude(status__in=[Job.Status.FAILED, Job.Status.CANCELLED])
        .exists()
    ):
        return None
    kind = "triage" if project.is_classification else "drafting"
    job = launch_generation(
        project, by=engineer, model_spec=teacher, params=GENERATION[kind], prompt_filter={"scope": "missing"}
    )
    log(f"{project.name}: queued {job} over {job.params['frozen']['count']} prompts.")
    return job


def sizes_from_env(value: str | None = None) -> dict:
    """``DEMO_SIZES`` ("triage=120:40,drafting=8:4": training prompts and gold items per
    project) for small demo data in tests and the benchmark's smoke run; {} when unset."""
    value = os.environ.get("DEMO_SIZES", "") if value is None else value
    sizes = {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        try:
            kind, numbers = part.split("=")
            n_train, n_gold = (int(n) for n in numbers.split(":"))
        except ValueError:
            raise ValueError(f"DEMO_SIZES: {part!r} is not kind=prompts:gold (e.g. triage=120:40)") from None
        if kind not in SIZES or n_train < 1 or n_gold < 1:
            raise ValueError(f"DEMO_SIZES: {part!r}: kind is one of {', '.join(SIZES)}, sizes are positive")
        sizes[kind] = (n_train, n_gold)
    return sizes


def seed_demo(log=print, with_teacher=True, sizes=None, teacher_budget_s=None):
    from curation.services.datasets import import_prompts

    sizes = {**SIZES, **sizes_from_env(), **(sizes or {})}
    users = _users()
    projects = {
        "triage": _project(
            "ticket-triage", "Ticket triage", "classification", TRIAGE_LABELS, GUIDELINES["triage"], users
        ),
        "drafting": _project("reply-drafting", "Reply drafting", "generation", [], GUIDELINES["drafting"], users),
    }
    for kind, project in projects.items():
        if project.prompts.exists():
            continue
        data = _prompt_lines(kind, *sizes[kind])
        result = import_prompts(project, io.BytesIO(data), filename="demo.jsonl", source="synthetic")
        log(f"{project.name}: imported {result.created} prompts ({result.gold_candidates} gold).")
        project.gold_items.update(confirmed=True)
    if with_teacher:
        models = build_demo_models(log=log, budget_s=teacher_budget_s)
        for project in projects.values():
            teacher, _student = register_demo_specs(project, models)
            queue_demo_generation(project, teacher, users["engineer"], log=log)
    return projects
