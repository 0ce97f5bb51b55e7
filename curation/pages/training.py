"""What the distillation pages show, computed from the rows: the distill panel of a
job page, the report page and the comparison of two model versions (the curves they
draw are read in ``curation.pages.curves``).

Views and template tags stay thin; everything here reads the database and returns
plain dicts for the templates (and the SVG geometry of ``curation.charts``).
"""

from __future__ import annotations

from curation import charts
from curation.models import EvalReport, ExperimentRun, Job, ModelVersion, Snapshot
from curation.pages.curves import loss_charts, validation_charts
from curation.services.training import KD_MODES, gate_sign, phase_label

SIDES = ({"name": "student", "css": "s-student"}, {"name": "teacher", "css": "s-teacher"})

# name -> (label, kind, lower is better)
METRICS = {
    "accuracy": ("Accuracy", "pct", False),
    "macro_f1": ("Macro-F1", "pct", False),
    "teacher_agreement": ("Agreement with the teacher", "pct", False),
    "ece": ("Expected calibration error", "num", True),
    "exact_match": ("Exact match", "pct", False),
    "normalized_match": ("Normalized match", "pct", False),
    "check_pass_rate": ("Automatic checks passed", "pct", False),
    "mean_kl_to_teacher": ("Mean KL to the teacher (nats/token)", "num", True),
    "reference_perplexity": ("Reference perplexity", "num", True),
    "n": ("Gold items", "int", False),
}
HEADLINE = {"classification": "accuracy", "generation": "normalized_match"}
BASIS = {
    "accuracy": "the student's accuracy ÷ the teacher's, on the gold labels",
    "normalized_match": "the student's normalized match ÷ the teacher's, on the gold references",
    "teacher_agreement": "the student's top-1 agreement with the teacher (the teacher matches no gold reference)",
    "judged": "the student's judged score ÷ the teacher's (the judge's expected grade on a 0-1 scale)",
}


def gate_rule(gate: dict | None) -> str:
    if not gate:
        return "no gate"
    text = f"{gate['metric']} {gate_sign(gate['metric'])} {gate['threshold']:g}"
    if gate.get("patience"):
        text += f", patience {gate['patience']}"
    return text


# -------------------------------------------------------------- job panel
def distill_panel(job: Job) -> dict:
    params, state = job.params or {}, job.metrics or {}
    stage_params = params.get("stages", [])
    snapshots = Snapshot.objects.in_bulk(
        [i for s in stage_params for i in [s.get("snapshot"), *s.get("extra_snapshots", [])] if i]
    )
    versions = {v.stage: v for v in ModelVersion.objects.filter(job=job)}
    current = state.get("current") or {}
    stages = []
    for i, s in enumerate(stage_params):
        done = state.get("stages", {}).get(str(i))
        if done and done["outcome"] == "gated" and job.status == Job.Status.GATED:
            status = "gated"
        elif done and done["outcome"] != "gated":
            status = "passed"
        elif current.get("stage_index") == i and job.is_active:
            status = "running"
        elif current.get("stage_index") == i and job.status in (Job.Status.CANCELLED, Job.Status.FAILED):
            status = "stopped" if job.status == Job.Status.CANCELLED else "failed"
        else:
            status = "waiting"
        stages.append(
            {
                "index": i,
                "number": i + 1,
                "name": s["name"],
                "snapshot": snapshots.get(s.get("snapshot")),
                "extra_snapshots": [snapshots.get(i) for i in s.get("extra_snapshots", [])],
                "length": f"{s['steps']} steps" if s.get("steps") else f"{s.get('epochs')} epochs",
                "settings": s,
                "gate_rule": gate_rule(s.get("gate")),
                "gate": (done or {}).get("gate"),
                "status": status,
                "version": versions.get(s["name"]),
                "phase": phase_label(current["phase"]) if status == "running" and current.get("phase") else "",
                "on_policy": (state.get("on_policy") or {}).get(s["name"]),
            }
        )
        stages[-1]["status_css"], stages[-1]["status_label"] = _stage_badge(stages[-1])
    charts_by_stage = {c["stage"]: c["chart"] for c in loss_charts(job)}
    val_by_stage = validation_charts(job)
    for stage in stages:
        stage["chart"] = charts_by_stage.get(stage["name"])
        stage["val_chart"] = val_by_stage.get(stage["name"])
    evaluation = Job.objects.filter(pk=state.get("evaluation_job")).first() if state.get("evaluation_job") else None
    kd_mode = state.get("kd_mode")
    warnings = [e["error"] for e in job.errors or [] if e.get("item") == "warning"]
    # The tokenizer decision is explained on the KD card; the other warnings (config
    # drift after a restart, no soft targets, ...) get their own.
    kd_reasons = [w for w in warnings if "sequence-level KD" in w or "token-level KD" in w]
    return {
        "stages": stages,
        "kd_mode": kd_mode,
        "kd_title": KD_MODES.get(kd_mode, ("", ""))[0],
        "kd_note": state.get("kd_note") or KD_MODES.get(kd_mode, ("", ""))[1],
        "kd_reasons": kd_reasons,
        "warnings": [w for w in warnings if w not in kd_reasons],
        "current": current,
        "gated": state.get("gated") if job.status == Job.Status.GATED else None,
        "resumes": params.get("resumes", []),
        "final": versions.get(""),
        "evaluation": evaluation,
        "report": EvalReport.objects.filter(job=evaluation).first() if evaluation else None,
        "settings": {
            k: params.get(k)
            for k in ("batch_size", "grad_accum", "max_seq_len", "mixed_precision", "seed", "checkpoint_every")
        },
        "data_fraction": params.get("data_fraction", 1.0),
        "random_order": params.get("order") == "random",
        "experiment_run": ExperimentRun.objects.filter(job=job).select_related("experiment").first(),
        "peak_rss_mb": (state.get("memory") or {}).get("peak_rss_mb"),
    }


# A stage's status -> (the badge's CSS class, its words); a running stage says its phase.
STAGE_BADGES = {
    "passed": ("succeeded", "done"),
    "gated": ("gated", "gate failed"),
    "running": ("running", ""),
    "stopped": ("cancelled", "stopped"),
    "failed": ("failed", "failed"),
}


def _stage_badge(stage: dict) -> tuple[str, str]:
    css, label = STAGE_BADGES.get(stage["status"], ("", "waiting"))
    if stage["status"] == "passed" and (stage["gate"] or {}).get("forced"):
        label = "forced"
    elif stage["status"] == "running":
        label = stage["phase"]
    return css, label


# ------------------------------------------------------------------ report
def metric_rows(student: dict, teacher: dict | None, *, task: str) -> list[dict]:
    rows = []
    for key, (label, kind, lower) in METRICS.items():
        if key not in student and (teacher is None or key not in teacher):
            continue
        s, t = student.get(key), (teacher or {}).get(key)
        rows.append(
            {
                "key": key,
                "label": label,
                "student": _fmt(s, kind),
                "teacher": _fmt(t, kind),
                "lower_is_better": lower,
                "headline": key == HEADLINE.get(task),
            }
        )
    return rows


def _fmt(value, kind):
    if value is None:
        return "–"
    if kind == "pct":
        return f"{value * 100:.1f}%"
    if kind == "int":
        return f"{round(value):,}"
    if kind == "x":
        return f"×{value:.2f}"
    return f"{value:.4g}"


def tier_chart(report: EvalReport, metric: str, *, sides=SIDES, width=560) -> dict:
    by_tier = report.by_tier or {}
    tiers = sorted(set(by_tier.get("student", {})) | set(by_tier.get("teacher", {})), key=_tier_order(report))
    groups = [{"label": "all", "values": [report.metrics.get(side["name"], {}).get(metric) for side in sides]}]
    groups += [
        {
            "label": f"{t} ({by_tier.get('student', {}).get(t, {}).get('n', 0)})",
            "values": [by_tier.get(side["name"], {}).get(t, {}).get(metric) for side in sides],
        }
        for t in tiers
    ]
    kind = METRICS.get(metric, ("", "num", False))[1]
    return charts.bar_chart(groups, list(sides), width=width, y_max=1.0 if kind == "pct" else None, kind=kind)


def _tier_order(report: EvalReport):
    order = {t.name: t.order for t in report.project.tiers.all()}
    return lambda name: (order.get(name, 10_000), name)


def speed_rows(report: EvalReport) -> list[dict]:
    s, t = report.speed.get("student", {}), report.speed.get("teacher", {})

    def row(label, key, fn):
        return {"label": label, "student": fn(s.get(key)), "teacher": fn(t.get(key))}

    mb = lambda v: "–" if v is None else f"{v / 2**20:,.1f} MB"  # noqa: E731
    rows = [
        row("Latency p50", "latency_p50_ms", lambda v: charts.fmt(v, "ms")),
        row("Latency p95", "latency_p95_ms", lambda v: charts.fmt(v, "ms")),
        row("Tokens per second", "tokens_per_s", lambda v: "–" if v is None else f"{v:,.0f}"),
        row("Parameters", "parameters", lambda v: "–" if v is None else f"{v:,}"),
        row("Weights in memory", "param_buffer_bytes", mb),
    ]
    # Reports written before the RSS was sampled hold only a "growth" that read 0: left out.
    if s.get("peak_rss_mb") or t.get("peak_rss_mb"):
        rows.append(
            row(
                "Worker peak RSS while evaluated",
                "peak_rss_mb",
                lambda v: "–" if not v else f"{v:,.0f} MB",
            )
        )
    return rows


def report_context(report: EvalReport) -> dict:
    metrics = report.metrics or {}
    task = metrics.get("task", "generation")
    headline = HEADLINE.get(task, "accuracy")
    student, teacher = metrics.get("student", {}), metrics.get("teacher", {})
    version = report.model_version
    speed = report.speed or {}
    latency = charts.bar_chart(
        [
            {"label": "p50", "values": [speed.get(side["name"], {}).get("latency_p50_ms") for side in SIDES]},
            {"label": "p95", "values": [speed.get(side["name"], {}).get("latency_p95_ms") for side in SIDES]},
        ],
        list(SIDES),
        width=300,
        kind="ms",
    )
    throughput = charts.bar_chart(
        [{"label": "tokens/s", "values": [speed.get(side["name"], {}).get("tokens_per_s") for side in SIDES]}],
        list(SIDES),
        width=300,
        kind="num",
    )
    # Untiered gold would draw one bar labelled "untiered": say so instead.
    tier_charts = (
        []
        if report.is_untiered
        else [{"title": f"{METRICS[headline][0]} by tier", "chart": tier_chart(report, headline)}]
    )
    if "teacher_agreement" in student and task == "generation" and not report.is_untiered:
        tier_charts.append(
            {
                "title": "Agreement with the teacher by tier (student)",
                "chart": tier_chart(report, "teacher_agreement", sides=SIDES[:1]),
            }
        )
    reliability = []
    for side in SIDES:
        data = (report.reliability or {}).get(side["name"])
        if data:
            reliability.append(
                {
                    "title": side["name"].capitalize(),
                    "ece": data.get("ece"),
                    "chart": charts.reliability_diagram(data["bins"], css=side["css"]),
                }
            )
    training = training_context(version)
    return {
        "report": report,
        "version": version,
        "task": task,
        "headline": headline,
        "basis": BASIS.get(
            metrics.get("quality_basis"), f"the student's {METRICS[headline][0].lower()} ÷ the teacher's"
        ),
        "rows": metric_rows(student, teacher, task=task),
        "tier_charts": tier_charts,
        "reliability": reliability,
        "latency_chart": latency,
        "throughput_chart": throughput,
        "speed_rows": speed_rows(report),
        "samples": metrics.get("samples", []),
        "notes": metrics.get("notes", []),
        "n_items": metrics.get("n_items"),
        "untiered": report.is_untiered,
        "targets": report.targets(),
        "missed": report.missed_targets(),
        "retained_ci": metrics.get("quality_retained_ci95"),
        "same_threads": metrics.get("same_threads"),
        **training,
    }


def training_context(version: ModelVersion | None) -> dict:
    """Loss per stage and the gate of every stage of the job that trained ``version``."""
    if version is None or version.job is None:
        return {"loss_charts": [], "gates": [], "training_peak_rss_mb": None}
    job = version.job
    stage_versions = {v.stage: v for v in ModelVersion.objects.filter(job=job, is_final=False)}
    gates = []
    for i, s in enumerate(job.params.get("stages", [])):
        v = stage_versions.get(s["name"])
        gates.append(
            {
                "number": i + 1,
                "name": s["name"],
                "rule": gate_rule(s.get("gate")),
                "gate": v.gate if v else None,
                "version": v,
            }
        )
    val = validation_charts(job, width=360, height=180)
    curves = [{**c, "val_chart": val.get(c["stage"])} for c in loss_charts(job, width=360, height=180)]
    memory = (job.metrics or {}).get("memory") or {}
    return {
        "loss_charts": curves,
        "gates": gates,
        "training_job": job,
        "training_peak_rss_mb": memory.get("peak_rss_mb") or None,
    }


# ----------------------------------------------------------------- compare
def latest_report(version: ModelVersion) -> EvalReport | None:
    return version.eval_reports.order_by("-created_at", "-id").first()


def compare_context(a: ModelVersion, b: ModelVersion) -> dict:
    reports = [latest_report(a), latest_report(b)]
    sides = [{"name": f"A · {a.name}", "css": "s-a"}, {"name": f"B · {b.name}", "css": "s-b"}]
    rows = []

    def add(label, values, kind="num", lower=False, delta=True):
        shown = [
            _fmt(v, kind)
            if isinstance(v, (int, float)) and not isinstance(v, bool)
            else (v if v not in (None, "") else "–")
            for v in values
        ]
        diff = None
        if delta and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            d = values[1] - values[0]
            better = (d < 0) if lower else (d > 0)
            text = f"{d * 100:.1f} pts" if kind == "pct" else f"{d:.2f}" if kind == "x" else _fmt(d, kind)
            diff = {"text": ("+" if d > 0 else "") + text, "css": "" if d == 0 else ("better" if better else "worse")}
        rows.append({"label": label, "a": shown[0], "b": shown[1], "delta": diff})

    add("Stage", [v.stage or "final" for v in (a, b)], delta=False)
    add("Training job", [f"#{v.job_id}" if v.job_id else "–" for v in (a, b)], delta=False)
    add("KD mode", [v.kd_mode for v in (a, b)], delta=False)
    add("Parameters", [v.parameters for v in (a, b)], "int", lower=True)
    unevaluated = [
        {"side": side, "version": v, "job": _running_evaluation(v)}
        for side, v, r in (("A", a, reports[0]), ("B", b, reports[1]))
        if r is None
    ]
    if unevaluated:  # quality and speed rows would be a column of dashes: the page offers the evaluation instead
        return {
            "a": a,
            "b": b,
            "reports": reports,
            "rows": rows,
            "tier_chart": None,
            "gates": _compare_gates(a, b),
            "unevaluated": unevaluated,
        }
    add("Quality retained", [r.quality_retained if r else None for r in reports], "pct")
    add("Speed-up", [r.speedup if r else None for r in reports], "x")
    task = next((r.metrics.get("task") for r in reports if r), None)
    for key, (label, kind, lower) in METRICS.items():
        values = [r.metrics.get("student", {}).get(key) if r else None for r in reports]
        if any(v is not None for v in values):
            add(label, values, kind, lower)
    for side in ("latency_p50_ms", "tokens_per_s"):
        values = [r.speed.get("student", {}).get(side) if r else None for r in reports]
        add(
            "Latency p50 (ms)" if side == "latency_p50_ms" else "Tokens per second",
            values,
            "num" if side == "latency_p50_ms" else "int",
            lower=side == "latency_p50_ms",
        )
    tier_chart_ = None
    if task and all(reports):
        metric = HEADLINE[task]
        tiers = sorted({t for r in reports for t in r.by_tier.get("student", {})})
        groups = [
            {
                "label": "all",
                "values": [r.metrics["student"].get(metric) for r in reports]
                + [reports[1].metrics["teacher"].get(metric)],
            }
        ]
        groups += [
            {
                "label": t,
                "values": [r.by_tier["student"].get(t, {}).get(metric) for r in reports]
                + [reports[1].by_tier.get("teacher", {}).get(t, {}).get(metric)],
            }
            for t in tiers
        ]
        same_teacher = reports[0].teacher_spec_id == reports[1].teacher_spec_id
        teacher = {"name": "teacher" if same_teacher else "teacher (B's report)", "css": "s-teacher"}
        tier_chart_ = {
            "title": f"{METRICS[metric][0]} by tier",
            "chart": charts.bar_chart(groups, sides + [teacher], y_max=1.0, kind="pct"),
        }
    return {"a": a, "b": b, "reports": reports, "rows": rows, "tier_chart": tier_chart_, "gates": _compare_gates(a, b)}


def _compare_gates(a: ModelVersion, b: ModelVersion) -> list[list[dict]]:
    gates = []
    for v in (a, b):  # a stage's version went through its own gate and the earlier ones
        if v.job is None:  # imported, or its job deleted: no gates recorded
            gates.append([])
            continue
        upto = len(v.job.params.get("stages", [])) if v.is_final or v.stage_index is None else v.stage_index + 1
        gates.append(training_context(v)["gates"][:upto])
    return gates


def _running_evaluation(version: ModelVersion) -> Job | None:
    """The queued or running evaluation of ``version``, if one is under way."""
    return (
        Job.objects.filter(
            project_id=version.project_id,
            kind=Job.Kind.EVALUATE,
            params__model_version=version.pk,
            status__in=Job.ACTIVE,
        )
        .order_by("-id")
        .first()
    )


# ------------------------------------------------------------- job panels, dashboard
def evaluation_panel(job: Job) -> dict:
    """An evaluation job's panel: the version it evaluated and its report (once written)."""
    version = ModelVersion.objects.filter(pk=job.params.get("model_version")).first()
    return {"version": version, "report": EvalReport.objects.filter(job=job).first()}


def latest_models(project, n=5) -> list[tuple]:
    """The dashboard's card: the project's ``n`` newest final versions, each with its latest report (or None)."""
    finals = list(ModelVersion.objects.filter(project=project, is_final=True).select_related("job")[:n])
    reports = {}
    for report in EvalReport.objects.filter(model_version__in=finals).order_by(
        "model_version_id", "-created_at", "-id"
    ):
        reports.setdefault(report.model_version_id, report)
    return [(v, reports.get(v.pk)) for v in finals]
