"""A generation report with answers per gold item, for blind side-by-side tests (no model runs)."""

from curation.models import EvalReport, GoldItem, ModelSpec, ModelVersion, Prompt
from curation.normalize import content_hash

STUDENT_NAME = "zeta-student-v7"
TEACHER_NAME = "omega-teacher-xl"


def gold_items(project, n: int) -> list[GoldItem]:
    tiers = list(project.tiers.all())
    items = []
    start = Prompt.objects.filter(project=project).count()  # a second call makes new prompts
    for i in range(n):
        text = f"Ticket {i}: please help with case {i}" if not start else f"Ticket {start + i}: another case"
        prompt = Prompt.objects.create(project=project, text=text, content_hash=content_hash(text))
        items.append(
            GoldItem.objects.create(
                project=project, prompt=prompt, reference=f"reference {i}", tier=tiers[i % 2], confirmed=True
            )
        )
    return items


def report(project, gold, *, name=STUDENT_NAME, student=lambda i: f"alpha reply {i}", teacher=None):
    spec = ModelSpec.objects.filter(project=project, name=TEACHER_NAME).first() or ModelSpec.objects.create(
        project=project, name=TEACHER_NAME, path="/nowhere"
    )
    version = ModelVersion.objects.create(project=project, name=name, artifact_path="/nowhere")
    teacher = teacher or (lambda i: f"beta reply {i}")
    return EvalReport.objects.create(
        project=project,
        model_version=version,
        teacher_spec=spec,
        metrics={"task": "generation", "n_items": len(gold), "student": {}, "teacher": {}},
        per_item={
            "gold_ids": [g.pk for g in gold],
            "metric": "normalized_match",
            "student": [0.0] * len(gold),
            "teacher": [0.0] * len(gold),
            "student_outputs": [student(i) for i in range(len(gold))],
            "teacher_outputs": [teacher(i) for i in range(len(gold))],
            "tiers": [g.tier.name for g in gold],
        },
    )
