"""The dashboard's "what to do next": a few steps read from the project's real state.

Each step says what is true now and links to the page where it is dealt with; a
member only gets links their role can follow (a reader sees the state, not the
reviewer's or engineer's actions).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.urls import reverse

from curation.access import can
from curation.models import EvalReport, Experiment, Job, Role, Snapshot

# The keys that do most of the work in the focus view (see review.js).
# The focus view's keys (static/js/review.js): a classification project's digits choose labels.
REVIEW_KEYS = "j/k next/previous, a approve, r reject, e edit, 1–5 grade, ? all keys"
CLASSIFICATION_REVIEW_KEYS = "j/k next/previous, a approve, r reject, 1–9 label, Shift+1–5 grade, ? all keys"


@dataclass(frozen=True)
class Step:
    text: str
    link: str = ""
    url: str = ""
    hint: str = ""


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def _url(name, project, *args, query=None):
    url = reverse(name, args=[project.slug, *args])
    return f"{url}?{urlencode(query)}" if query else url


def next_steps(project, progress: list[dict]) -> list[Step]:
    """What to do next in ``project``, most urgent first.

    ``progress`` is ``stats.stage_progress``'s rows (the dashboard has them already);
    ``project.current_role`` is set by ``access.project_for``.
    """
    reviewer = can(project, Role.REVIEWER)
    engineer = can(project, Role.ENGINEER)
    jobs = list(project.jobs.filter(status__in=(*Job.ACTIVE, Job.Status.GATED)).order_by("created_at", "id"))
    experiment_steps, experiment_jobs = _active_experiments(project)
    steps = experiment_steps + [_job_step(project, job, engineer) for job in jobs if job.pk not in experiment_jobs]
    steps += _review_steps(project, progress, reviewer)
    if engineer:
        steps += _snapshot_steps(project, progress, jobs)
    report = EvalReport.objects.filter(project=project).order_by("-created_at", "-id").first()
    if report is not None:
        # A missed target leads: everything downstream of a weak teacher or student inherits it.
        steps.insert(0 if report.missed_targets() else len(steps), _report_step(project, report))
        steps += _experiment_step(project, engineer)
    return steps


def _active_experiments(project) -> tuple[list[Step], set[int]]:
    """One step per running experiment, standing for its many jobs (which get no step of their own)."""
    steps, job_ids = [], set()
    for experiment in project.experiments.filter(status__in=Experiment.ACTIVE).order_by("created_at", "id"):
        runs = list(experiment.runs.select_related("job"))
        job_ids |= {experiment.job_id} | {r.job_id for r in runs if r.job_id}
        job_ids |= {(r.job.metrics or {}).get("evaluation_job") for r in runs if r.job_id}
        trained = sum(1 for r in runs if r.job_id and r.job.status not in (*Job.ACTIVE, Job.Status.GATED))
        gated = sum(1 for r in runs if r.job_id and r.job.status == Job.Status.GATED)
        waits = f"; {_plural(gated, 'run waits', 'runs wait')} at a gate" if gated else ""
        steps.append(
            Step(
                f"Experiment “{experiment.name}”: {trained:,} of {_plural(len(runs), 'run')} trained{waits}.",
                "Watch its progress",
                _url("experiment-detail", project, experiment.pk),
            )
        )
    return steps, job_ids


def _experiment_step(project, engineer) -> list[Step]:
    """The latest finished experiment's answer, or (for engineers) the suggestion to run one."""
    done = project.experiments.filter(status=Experiment.Status.DONE).order_by("-finished_at", "-id").first()
    if done is not None:
        curation = next((q for q in (done.results or {}).get("questions", []) if q["key"] == "curation"), None)
        comparison = (curation or {}).get("comparisons") or []
        summary = f": {comparison[0]['verdict']}" if comparison else "."
        return [
            Step(f"Experiment “{done.name}”{summary}", "Read its answers", _url("experiment-detail", project, done.pk))
        ]
    if engineer and not project.experiments.exists():
        return [
            Step(
                "Measure what curation, KD and the curriculum are worth on your data, with 95% intervals.",
                "Launch an experiment",
                _url("experiment-launch", project),
            )
        ]
    return []


def _job_step(project, job, engineer) -> Step:
    url = _url("job-detail", project, job.pk)
    if job.status == Job.Status.GATED:
        stage = ((job.metrics or {}).get("gated") or {}).get("stage")
        where = f" after {stage}" if stage else ""
        if engineer:
            return Step(
                f"{job} waits at a gate{where}: its evaluation missed the threshold.", "Decide: resume or stop", url
            )
        return Step(f"{job} waits at a gate{where} for an engineer to decide.", "See the job", url)
    progress = f" ({job.progress_done:,} / {job.progress_total:,} done)" if job.progress_total else ""
    if job.kind == Job.Kind.GENERATE:
        text = f"The teacher is answering {_plural(job.progress_total, 'prompt')}{progress}."
    elif job.kind == Job.Kind.SCORE:
        text = f"The teacher is scoring {_plural(job.progress_total, 'text')}{progress}."
    else:
        text = f"{job} is {job.get_status_display().lower()}{progress}."
    return Step(text, "Watch its progress", url)


def _review_steps(project, progress, reviewer) -> list[Step]:
    steps = []
    pending = sum(row["pending"] for row in progress)
    if pending:
        if reviewer:
            steps.append(
                Step(
                    f"{_plural(pending, 'example waits', 'examples wait')} for review.",
                    "Open the queue",
                    _url("review-queue", project, query={"status": "pending"}),
                    hint=CLASSIFICATION_REVIEW_KEYS if project.is_classification else REVIEW_KEYS,
                )
            )
        else:
            steps.append(Step(f"{_plural(pending, 'example waits', 'examples wait')} for a reviewer."))
    in_pool = sum(row["approved"] for row in progress if row["stage"].is_pool)
    if in_pool and reviewer:
        steps.append(
            Step(
                f"{_plural(in_pool, 'approved example is', 'approved examples are')} in the pool.",
                "Place them in stages on the board" if in_pool > 1 else "Place it in a stage on the board",
                _url("review-board", project),
            )
        )
    return steps


def _snapshot_steps(project, progress, jobs) -> list[Step]:
    """Stages whose approved examples have no ready snapshot (or a smaller one); then distillation."""
    latest = {}
    for snapshot in project.snapshots.filter(status=Snapshot.Status.READY, stage__isnull=False).order_by("created_at"):
        latest[snapshot.stage_id] = snapshot
    steps = []
    for row in progress:
        stage, eligible = row["stage"], row["in_snapshot"]
        if stage.is_pool or not eligible:
            continue
        snapshot = latest.get(stage.id)
        build = _url("snapshot-list", project, query={"stage": stage.name})
        if snapshot is None:
            has = "has" if eligible == 1 else "have"
            steps.append(
                Step(
                    f"{_plural(eligible, 'approved example')} in {stage.name} {has} no snapshot yet.",
                    "Build one",
                    build,
                )
            )
        elif snapshot.row_count != eligible:
            steps.append(
                Step(
                    f"{_plural(eligible, 'approved example')} in {stage.name}; its latest snapshot, "
                    f"{snapshot.name}, holds {snapshot.row_count:,}.",
                    "Build a new one",
                    build,
                )
            )
    if steps or not latest:
        return steps
    newest = max(s.created_at for s in latest.values())
    last_distill = project.jobs.filter(kind=Job.Kind.DISTILL).order_by("-created_at").first()
    busy = any(job.kind == Job.Kind.DISTILL for job in jobs)
    if not busy and (last_distill is None or last_distill.created_at < newest):
        steps.append(
            Step(
                f"Snapshots of {_plural(len(latest), 'stage')} are ready.",
                "Launch a staged distillation",
                _url("distill-launch", project),
            )
        )
    return steps


def _report_step(project, report) -> Step:
    missed = report.missed_targets()
    if missed:
        worst = missed[0]
        value = f"{worst['value']:.0%}" if worst["kind"] == "pct" else f"×{worst['value']:.1f}"
        target = f"{worst['target']:.0%}" if worst["kind"] == "pct" else f"×{worst['target']:.1f}"
        more = f" (and {_plural(len(missed) - 1, 'other target')})" if len(missed) > 1 else ""
        text = f"TARGET MISSED in the latest evaluation: {worst['name']} {value}, target {target}{more}."
        return Step(
            f"{text} {worst['advice']}",
            "Read the report",
            _url("report-detail", project, report.pk),
        )
    parts = []
    if report.quality_retained is not None:
        parts.append(f"quality retained {report.quality_retained:.0%}")
    if report.speedup is not None:
        parts.append(f"speed-up ×{report.speedup:.1f}")
    summary = ", ".join(parts) or "no headline numbers"
    return Step(f"Latest evaluation: {summary}.", "Read the report", _url("report-detail", project, report.pk))
