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
from curation.services.projects import grant_role

DEMO_PASSWORD = "demo-password"
DEMO_USERS = [("reviewer", "reviewer"), ("engineer", "engineer")]
TRIAGE_LABELS = ["billing", "account", "technical", "other"]
# Training prompts and gold items per project. Triage needs a couple of thousand
# teacher-labelled tickets for a 0.26M-parameter student to keep the teacher's accuracy; three
# times as many gained nothing detectable on validation tickets (bench/student_start.py, README).
SIZES = {"triage": (2000, 400), "drafting": (600, 100)}
GENERATION = {
    "triage": {},
    "drafting": {"n": 2, "temperature": 0.7, "top_p": 0.95, "max_new_tokens": 64, "seed": 0},
}
# The triage student's distillation recipe, pre-filled by the launch form (the student
# spec's defaults["distill"]). `bench/demo.py` chooses it among DISTILL_CANDIDATES by the
# accuracy of each trained student on the snapshots' *validation* split (never on gold,
# which is evaluated once, for the chosen student); the README has the figures.
DISTILL = {
    "triage": {
        "batch_size": 32,
        "max_seq_len": 256,
        "stage": {
            # 10 epochs: on validation tickets 30 epochs scored 0.923 against 0.910 in one
            # measurement and 0.907 against 0.928 in the next (another data order), so no
            # difference is detectable, and 10 take a third of the time (README, "The demo
            # student's recipe"; bench/student_start.py).
            "epochs": 10,
            "lr": 3e-3,
            "warmup_steps": 10,
            "temperature": 4.0,
            "alpha": 1.0,
            "replay_fraction": 0.2,
        },
    },
    # The reply-drafting student: token-level KD on the teacher's top-k soft targets (they
    # share a tokenizer) at T 1, half KD and half CE on the approved replies, stage by stage.
    "drafting": {
        "batch_size": 16,
        "max_seq_len": 256,
        "stage": {
            "epochs": 4,
            "lr": 3e-3,
            "warmup_steps": 10,
            "temperature": 1.0,
            "alpha": 0.5,
            "replay_fraction": 0.2,
        },
    },
}
# The drafting project's judge: the teacher (the default) grading replies 1-5 on this rubric.
DRAFTING_RUBRIC = (
    "Grade the support reply to the ticket. 5: addresses the customer's actual problem, polite, 1-3 sentences, "
    "promises nothing we cannot keep. 4: right problem, a small gap. 3: partly on topic. 2: mostly off-topic or "
    "vague. 1: off-topic, rude, invented or empty."
)
# What bench/demo.py chooses among, on validation: the recipe above, and the teacher's label
# distribution at T 1 (no tempering), and half KD / half the approved labels.
DISTILL_CANDIDATES = [
    DISTILL["triage"],
    {**DISTILL["triage"], "stage": {**DISTILL["triage"]["stage"], "temperature": 1.0}},
    {**DISTILL["triage"], "stage": {**DISTILL["triage"]["stage"], "temperature": 1.0, "alpha": 0.5}},
]
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
        if not Membership.objects.filter(user=users[username], project=project).exists():
            grant_role(project, users[username], role)
    return project


def _prompt_lines(kind, n_train, n_gold, dev=True):
    """JSONL import lines for the demo projects, from the ticket generator: the pool, the gold set
    and (``dev``) the dev set, ``n_gold`` gold-like tickets of each of ``corpus.DEV_SEEDS``."""
    from workers.demo import corpus

    train = corpus.pool_tickets(n_train, seed=corpus.POOL_SEED)
    gold = corpus.generate_tickets(n_gold, seed=corpus.GOLD_SEED, split="gold")
    dev = corpus.dev_tickets(n_gold, n_gold) if dev else []
    lines = []
    for t in train:
        prompt = corpus.triage_prompt(t.text) if kind == "triage" else corpus.drafting_prompt(t.text)
        lines.append({"prompt": prompt, "metadata": {"template": t.template_id, "ambiguous": t.ambiguous}})
    for purpose, tickets in (("test", gold), ("dev", dev)):
        for t in tickets:
            extra = {"purpose": purpose, "metadata": {"template": t.template_id, "difficulty": gold_tier(t)}}
            if kind == "triage":
                lines.append({"prompt": corpus.triage_prompt(t.text), "label": t.label, **extra})
            else:
                lines.append({"prompt": corpus.drafting_prompt(t.text), "reference": t.reply, **extra})
    return "\n".join(json.dumps(line) for line in lines).encode()


def teacher_steps_from_env(value: str | None = None) -> int | None:
    """``DEMO_TEACHER_STEPS``: fewer training steps for the demo teacher (tests, smoke runs); None when unset."""
    value = os.environ.get("DEMO_TEACHER_STEPS", "") if value is None else value
    if not value.strip():
        return None
    if not value.strip().isdigit() or int(value) < 1:
        raise ValueError(f"DEMO_TEACHER_STEPS: {value!r} is not a positive whole number of steps")
    return int(value)


def build_demo_models(log=print, steps: int | None = None) -> dict:
    """Train (or reuse) the demo teacher and a fresh student sharing its tokenizer.

    The teacher trains a fixed number of steps (its recipe's, or ``steps`` /
    ``DEMO_TEACHER_STEPS``), so its quality is the same on every machine; a teacher below
    its gold target is reported loudly here, on the dashboard and on every report.
    """
    from workers.demo.student import INFO_FILE, STUDENT_ARCH, STUDENT_INIT, build_demo_student
    from workers.demo.teacher import TeacherRecipe, build_demo_teacher, missed_target_message

    steps = steps or teacher_steps_from_env()
    teacher_dir, student_dir = demo_dir() / "teacher", demo_dir() / "student"
    recipe = TeacherRecipe(steps=steps) if steps else None
    teacher = build_demo_teacher(teacher_dir, recipe=recipe, log=log)
    if teacher["cached"] and not teacher.get("meets_target", True):
        log(missed_target_message(teacher))
    try:
        built = json.loads((student_dir / INFO_FILE).read_text())
    except (OSError, ValueError):
        built = {}
    if (
        not teacher["cached"]
        or built.get("architecture") != STUDENT_ARCH
        or (built.get("init") or {}).get("from") != STUDENT_INIT
    ):
        student = build_demo_student(teacher_dir, student_dir)
        log(
            f"demo student: {student['parameters'] / 1e6:.2f}M parameters, "
            f"{student['latency_ratio']:.1f}x faster forward pass than the teacher, "
            f"embeddings from the {student['init']['from']}"
        )
    return {"teacher_dir": teacher_dir, "student_dir": student_dir, "teacher": teacher}


# Both demo models run on the same CPU: one price per busy hour, so the routing simulation's
# cost of a mix is its share of the teacher's busy time.
DEMO_PRICING = {"per_hour": 1.0}


def register_demo_specs(project, models) -> tuple[ModelSpec, ModelSpec]:
    teacher, _ = ModelSpec.objects.update_or_create(
        project=project,
        name="demo teacher",
        defaults={
            "role": ModelSpec.Role.TEACHER,
            "backend": ModelSpec.Backend.TRANSFORMERS,
            "path": str(models["teacher_dir"]),
            "defaults": GENERATION["triage" if project.is_classification else "drafting"],
            "pricing": DEMO_PRICING,
        },
    )
    student, _ = ModelSpec.objects.update_or_create(
        project=project,
        name="demo student",
        defaults={
            "role": ModelSpec.Role.STUDENT,
            "backend": ModelSpec.Backend.TRANSFORMERS,
            "path": str(models["student_dir"]),
            "defaults": {"distill": DISTILL["triage" if project.is_classification else "drafting"]},
            "pricing": DEMO_PRICING,
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


def gold_tier(ticket) -> str:
    """A demo gold ticket's difficulty: mixed intents are hard, a plain request with an aside about
    another category is medium, a plain request is easy (the by-tier bars of the report)."""
    if ".mixed." in ticket.template_id:
        return "hard"
    return "medium" if "+aside." in ticket.template_id else "easy"


def _tier_gold(project) -> None:
    """Gold items get the tier their prompt's metadata names (the import leaves gold untiered)."""
    tiers = {t.name: t for t in project.tiers.all()}
    for item in project.gold_items.select_related("prompt").filter(tier__isnull=True):
        tier = tiers.get((item.prompt.metadata or {}).get("difficulty"))
        if tier is not None:
            item.tier = tier
            item.save(update_fields=["tier"])


def seed_demo(log=print, with_teacher=True, sizes=None, teacher_steps=None):
    from curation.services.datasets import import_prompts

    sizes = {**SIZES, **sizes_from_env(), **(sizes or {})}
    users = _users()
    projects = {
        "triage": _project(
            "ticket-triage", "Ticket triage", "classification", TRIAGE_LABELS, GUIDELINES["triage"], users
        ),
        "drafting": _project("reply-drafting", "Reply drafting", "generation", [], GUIDELINES["drafting"], users),
    }
    if not projects["drafting"].judge_rubric:
        projects["drafting"].judge_rubric = DRAFTING_RUBRIC
        projects["drafting"].save(update_fields=["judge_rubric"])
    for kind, project in projects.items():
        if project.prompts.exists():
            continue
        data = _prompt_lines(kind, *sizes[kind])
        result = import_prompts(project, io.BytesIO(data), filename="demo.jsonl", source="synthetic")
        log(f"{project.name}: imported {result.created} prompts ({result.gold_candidates} gold).")
        project.gold_items.update(confirmed=True)
        _tier_gold(project)
    if with_teacher:
        models = build_demo_models(log=log, steps=teacher_steps)
        for project in projects.values():
            teacher, _student = register_demo_specs(project, models)
            queue_demo_generation(project, teacher, users["engineer"], log=log)
    return projects
