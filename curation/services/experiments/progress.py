"""Where an experiment stands: each run's state, progress across arms, one ETA, and the results.

The state is read from the runs' own jobs (each an ordinary distillation job followed by its
automatic evaluation), so nothing has to report back: ``refresh`` is called by the pages and
the API, records what it learnt (a run's model version and report, the experiment's status)
and computes the results once every run has ended, again only if the set of reports changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from curation.models import EvalReport, Experiment, ExperimentRun, Job
from curation.services import webhooks
from curation.services.experiments.arms import ARMS
from curation.services.experiments.results import compute_results

# state -> (label, css status class, terminal)
STATES = {
    "waiting": ("waiting to launch", "queued", False),
    "queued": ("queued", "queued", False),
    "training": ("training", "running", False),
    "gated": ("waiting at a gate", "gated", False),
    "evaluating": ("evaluating on gold", "running", False),
    "done": ("evaluated", "succeeded", True),
    "failed": ("failed", "failed", True),
    "cancelled": ("cancelled", "cancelled", True),
}


@dataclass
class RunView:
    run: ExperimentRun
    state: str
    detail: str = ""
    job: Job | None = None
    evaluation: Job | None = None
    report: EvalReport | None = None

    @property
    def label(self) -> str:
        return STATES[self.state][0]

    @property
    def css(self) -> str:
        return STATES[self.state][1]

    @property
    def terminal(self) -> bool:
        return STATES[self.state][2]

    @property
    def arm_label(self) -> str:
        return ARMS[self.run.arm].label if self.run.arm in ARMS else self.run.arm

    @property
    def dev(self) -> float | None:
        """The run's student on the project's dev set (what choosing the student to ship reads)."""
        return ((self.job.metrics or {}).get("dev") or {}).get("value") if self.job else None


@dataclass
class Board:
    experiment: Experiment
    runs: list[RunView] = field(default_factory=list)
    eta_s: float | None = None

    @property
    def total(self) -> int:
        return len(self.runs)

    @property
    def done(self) -> int:
        return sum(r.terminal for r in self.runs)

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0

    def by_arm(self) -> list[tuple[str, str, list[RunView]]]:
        rows: dict[str, list[RunView]] = {}
        for r in self.runs:
            rows.setdefault(r.run.arm, []).append(r)
        return [(arm, ARMS[arm].label if arm in ARMS else arm, runs) for arm, runs in rows.items()]


def _state(run: ExperimentRun, evaluations: dict[int, Job], reports: dict[int, EvalReport]) -> RunView:
    job = run.job
    if job is None:
        return RunView(run, "failed", run.error) if run.error else RunView(run, "waiting")
    if job.status == Job.Status.QUEUED:
        return RunView(run, "queued", job=job)
    if job.status == Job.Status.RUNNING:
        return RunView(run, "training", job.phase, job=job)
    if job.status == Job.Status.GATED:
        return RunView(run, "gated", job.message, job=job)
    if job.status in (Job.Status.FAILED, Job.Status.CANCELLED):
        return RunView(run, "failed" if job.status == Job.Status.FAILED else "cancelled", job.message, job=job)
    evaluation = evaluations.get((job.metrics or {}).get("evaluation_job"))
    if evaluation is None:
        return RunView(run, "failed", "trained, but no evaluation was launched: " + job.message, job=job)
    report = reports.get(evaluation.pk)
    if report is not None:
        return RunView(run, "done", job=job, evaluation=evaluation, report=report)
    if evaluation.status in Job.ACTIVE:
        return RunView(run, "evaluating", evaluation.phase, job=job, evaluation=evaluation)
    state = "cancelled" if evaluation.status == Job.Status.CANCELLED else "failed"
    return RunView(run, state, f"evaluation: {evaluation.message}", job=job, evaluation=evaluation)


def _seconds(job: Job | None) -> float | None:
    if job is None or not (job.started_at and job.finished_at):
        return None
    return (job.finished_at - job.started_at).total_seconds()


def estimate_eta(views: list[RunView]) -> float | None:
    """Seconds until every run has ended, assuming one gpu worker takes the runs one at a time:
    the running job's own ETA, plus, for each run still waiting, the mean time a finished run took
    (training and evaluation; before any finished, the running job's elapsed time plus its ETA)."""
    finished = [
        _seconds(v.job) + (_seconds(v.evaluation) or 0.0)
        for v in views
        if v.state == "done" and _seconds(v.job) is not None
    ]
    per_run = sum(finished) / len(finished) if finished else None
    eta, running = 0.0, [v for v in views if v.state in ("training", "evaluating")]
    for v in running:
        job = v.evaluation if v.state == "evaluating" else v.job
        eta += job.eta_s or 0.0
        if per_run is None and v.state == "training" and job.started_at and job.eta_s is not None:
            per_run = (timezone.now() - job.started_at).total_seconds() + job.eta_s
    waiting = sum(v.state in ("waiting", "queued") for v in views)
    if waiting and per_run is None:
        return None
    return eta + waiting * (per_run or 0.0)


def refresh(experiment: Experiment) -> Board:
    """The experiment's board; records run outcomes, the status and (when every run ended) the results."""
    runs = list(experiment.runs.select_related("job").order_by("seed_index", "id"))
    eval_ids = [(r.job.metrics or {}).get("evaluation_job") for r in runs if r.job_id]
    evaluations = Job.objects.in_bulk([i for i in eval_ids if i])
    reports = {r.job_id: r for r in EvalReport.objects.filter(job_id__in=list(evaluations))}
    views = [_state(run, evaluations, reports) for run in runs]
    order = list(ARMS)
    views.sort(key=lambda v: (order.index(v.run.arm) if v.run.arm in order else len(order), v.run.seed_index))
    for v in views:
        version = (v.job.metrics or {}).get("final_model_version") if v.job else None
        report = v.report.pk if v.report else None
        if (v.run.model_version_id, v.run.eval_report_id) != (version, report) and (version or report):
            ExperimentRun.objects.filter(pk=v.run.pk).update(model_version_id=version, eval_report_id=report)
            v.run.model_version_id, v.run.eval_report_id = version, report
    board = Board(experiment, views, estimate_eta(views))
    _update_status(experiment, board)
    return board


def _update_status(experiment: Experiment, board: Board) -> None:
    # The stored status, not the caller's copy: another refresh may have moved it since it was read.
    experiment.status = Experiment.objects.values_list("status", flat=True).get(pk=experiment.pk)
    fields = {}
    if experiment.status == Experiment.Status.PREPARING and experiment.job_id:
        job = Job.objects.only("status", "message").get(pk=experiment.job_id)
        if job.status == Job.Status.FAILED:
            fields.update(status=Experiment.Status.FAILED, message=f"Preparation failed: {job.message}")
        elif job.status == Job.Status.CANCELLED:
            fields.update(status=Experiment.Status.CANCELLED, message=job.message)
        elif job.status == Job.Status.SUCCEEDED:
            fields.update(status=Experiment.Status.RUNNING)
    status = fields.get("status", experiment.status)
    if status == Experiment.Status.RUNNING and board.total and board.done == board.total:
        failed = sum(v.state != "done" for v in board.runs)
        fields.update(
            status=Experiment.Status.DONE if failed < board.total else Experiment.Status.FAILED,
            finished_at=timezone.now(),
            message=(f"{failed} of {board.total} runs did not finish; the results use the others." if failed else ""),
        )
    reports = sorted(v.report.pk for v in board.runs if v.report)
    results_stale = reports and experiment.results.get("reports") != reports
    if status in (Experiment.Status.DONE, Experiment.Status.RUNNING, Experiment.Status.CANCELLED) and results_stale:
        # Computed as soon as a pair of arms can be compared, then again as runs finish.
        fields["results"] = results_of(experiment, board, reports)
    if fields:
        with transaction.atomic():
            # Conditional on the status read, so two pages refreshing at once end the experiment once.
            moved = Experiment.objects.filter(pk=experiment.pk, status=experiment.status).update(**fields)
            if moved and fields.get("status") in ENDED and experiment.status not in ENDED:
                webhooks.emit(experiment.project_id, "experiment.ready", {"experiment": _event(experiment, fields)})
        for key, value in fields.items():
            setattr(experiment, key, value)


ENDED = (Experiment.Status.DONE, Experiment.Status.FAILED)


def _event(experiment: Experiment, fields: dict) -> dict:
    return {
        "id": experiment.pk,
        "name": experiment.name,
        "status": fields["status"],
        "message": fields.get("message", ""),
    }


def results_of(experiment: Experiment, board: Board, reports: list[int]) -> dict:
    per_item: dict[str, dict[int, dict]] = {}
    for v in board.runs:
        if v.report is not None and (v.report.per_item or {}).get("gold_ids"):
            per_item.setdefault(v.run.arm, {})[v.run.seed_index] = v.report.per_item
    results = compute_results(
        per_item, metric=experiment.params.get("metric", ""), n_snapshots=len(experiment.params.get("snapshots", []))
    )
    missing = sum(1 for v in board.runs if v.report is not None and not (v.report.per_item or {}).get("gold_ids"))
    if missing:
        results["notes"].append(f"{missing} evaluation report(s) hold no per-item scores and are left out.")
    results["reports"] = reports
    results["final"] = board.done == board.total
    return results
