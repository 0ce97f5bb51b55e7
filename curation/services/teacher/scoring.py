"""Score jobs (``kind=score``): teacher-forced soft targets for text the teacher did not write.

Targets, found afresh on every run (so a resumed or repeated job only does what is
missing):
- ``edits``: examples of the project whose ``soft_targets`` is blank and whose
  response is not: a reviewer edited the teacher's answer (the edit clears the
  pointer) or wrote one;
- ``gold``: confirmed gold references that this teacher has not scored yet.

Each result is written like a generated sample: its soft targets into a shard, then
one transaction that creates a ``TeacherSample`` (``scored=True``; ``sample_index`` is
the example's id, or 0 for a gold reference) and, for an edit, points the example at
the new soft targets. That update is optimistic: it only applies while the example's
response is still the text that was scored (``filter(response=text)``); an example
edited again meanwhile keeps a blank pointer and the next score job takes it. The
example's mean log-prob, entropy, margin and token count are set from the scored
text, so the queue's statistics describe the response it shows.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef

from curation.models import Example, GoldItem, Job, TeacherSample
from curation.services import jobs
from curation.services.errors import Invalid
from curation.services.inputs import parse_number
from curation.services.modelspecs import MAX_TOP_K, check_soft_target_choice, teacher_config
from curation.services.teacher.generation import teacher_spec_for
from workers.teacher import DEFAULT_DRAWS, DEFAULT_TOP_K

TARGETS = {"edits": "Edited examples without soft targets", "gold": "Confirmed gold references"}


def edits_to_score(project, job=None):
    qs = Example.objects.filter(project=project, soft_targets="").exclude(response="")
    if job is not None:
        qs = qs.exclude(
            Exists(TeacherSample.objects.filter(job=job, prompt=OuterRef("prompt_id"), sample_index=OuterRef("pk")))
        )
    return qs.order_by("id")


def gold_to_score(project, spec_id, job=None):
    scored = TeacherSample.objects.filter(
        prompt=OuterRef("prompt_id"), model_spec_id=spec_id, scored=True, error="", text=OuterRef("reference")
    )
    qs = GoldItem.objects.filter(project=project, confirmed=True).exclude(reference="").exclude(Exists(scored))
    if job is not None:
        qs = qs.exclude(Exists(TeacherSample.objects.filter(job=job, prompt=OuterRef("prompt_id"), sample_index=0)))
    return qs.order_by("id")


def count_targets(project, spec_id, targets) -> dict:
    return {
        "edits": edits_to_score(project).count() if "edits" in targets else 0,
        "gold": gold_to_score(project, spec_id).count() if "gold" in targets else 0,
    }


def prepare_scoring(project, *, model_spec, params=None) -> tuple:
    params = dict(params or {})
    errors = Invalid()
    spec = teacher_spec_for(project, model_spec, errors)
    if project.is_classification:
        errors.add(
            "project",
            "classification projects keep the teacher's label distribution, not token soft targets: "
            "there is nothing to score",
        )
    known = ("targets", "top_k", "soft_targets", "draws")
    unknown = sorted(set(params) - set(known))
    settings = Invalid()
    if unknown:
        settings.add("params", f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(known)}")
    targets = params.get("targets", list(TARGETS))
    if isinstance(targets, str):
        targets = [targets]
    if not isinstance(targets, list) or not targets or not set(targets) <= set(TARGETS):
        settings.add("targets", f"choose one or more of {', '.join(TARGETS)}")
    top_k = parse_number(
        params.get("top_k"), "top_k", settings, kind=int, default=DEFAULT_TOP_K, minimum=1, maximum=MAX_TOP_K, label=""
    )
    choice = check_soft_target_choice(params, settings, spec)
    if settings:
        errors.nest("params", settings)
    if not errors:
        counts = count_targets(project, spec.pk, targets)
        if not sum(counts.values()):
            errors.nest(
                "params",
                Invalid(
                    {
                        "targets": [
                            "nothing to score: no edited example lacks soft targets and every "
                            "confirmed gold reference is already scored by this teacher"
                        ]
                    }
                ),
            )
    errors.raise_if_any()
    return spec, {
        "teacher": teacher_config(spec),
        "targets": sorted(set(targets)),
        "top_k": top_k,
        "soft_targets": choice.get("soft_targets", "topk"),
        "draws": choice.get("draws", DEFAULT_DRAWS),
    }


def launch_scoring(project, *, by, model_spec, params=None) -> Job:
    spec, job_params = prepare_scoring(project, model_spec=model_spec, params=params)
    return jobs.launch(project, Job.Kind.SCORE, job_params, by=by, model_spec=spec)


# ------------------------------------------------------------------------ body
