"""bench/demo.py's reply-drafting leg: a generation student distilled end to end.

Played through the product's services, like the triage leg: the teacher's queued generation
over the drafting tickets (two sampled replies per prompt, with soft targets); a **simulated
reviewer** (declared as such in the output: it is not a person) grades every reply 1-5 by
its chrF against the corpus's own reply for that ticket, in quintiles, so the judge's
agreement with "reviewers" has grades to be measured against; every reply approved and
staged by tier; two stage snapshots; the student trained with the drafting recipe the launch
form pre-fills (``curation.services.demo.DISTILL["drafting"]``, token-level KD) and its
automatic evaluation on the gold replies: chrF and ROUGE-L, the judge (the teacher, on the
project's rubric) and per-token latency at matched lengths.

Figures: ``gen_judged_retained`` (student's judged score / teacher's, 0-1 scale of the
expected grade) and ``gen_chrf_retained``, each with a 95% paired bootstrap interval;
``gen_speedup_per_token``; ``judge_human_agreement`` (quadratic kappa against the simulated
reviewer) with its n and Spearman. Targets: judged retained >= 0.90 at >= 3x per token.
"""

from __future__ import annotations

TARGET_JUDGED, TARGET_SPEEDUP_PER_TOKEN = 0.90, 3.0


def simulated_grades(project, user) -> dict:
    """Grade each example 1-5 by the quintile of its chrF against the corpus's reply (not a person)."""
    from curation.models import Example
    from curation.services import review
    from curation.services.demo import SIZES, sizes_from_env
    from workers.demo import corpus
    from workers.genmetrics import chrf

    n_train = {**SIZES, **sizes_from_env()}["drafting"][0]
    replies = {corpus.drafting_prompt(t.text): t.reply for t in corpus.pool_tickets(n_train, seed=corpus.POOL_SEED)}
    rows = []
    for example in Example.objects.filter(project=project, grade__isnull=True).select_related("prompt", "sample"):
        reference = replies.get(example.prompt.text)
        if reference is not None:
            rows.append((chrf(example.response_text, reference), example))
    rows.sort(key=lambda r: (r[0], r[1].pk))
    for rank, (_, example) in enumerate(rows):
        grade = 1 + (5 * rank) // len(rows)
        review.apply(example, user, "grade", example.version, grade=grade)
    return {"graded": len(rows), "by": "chrF against the corpus's reply, in quintiles"}


def journey(h, engineer, smoke: bool, say) -> dict:
    """``h``: bench/demo.py's module (its generate, bulk, snapshot and training helpers)."""
    from curation.models import EvalReport, Job, ModelSpec, Project
    from curation.services.demo import DISTILL
    from curation.services.training import run_evaluation_job

    project = Project.objects.get(slug="reply-drafting")
    teacher = ModelSpec.objects.get(project=project, name="demo teacher")
    student = ModelSpec.objects.get(project=project, name="demo student")
    generation_s = h.generate(project)
    grades = simulated_grades(project, engineer)
    say(f"drafting: {grades}")
    h._bulk(project, engineer, "approve", {"status": "pending"})
    h.stage_by_tier(project, engineer)
    snaps = h.snapshots(project, engineer, ["stage 1", "stage 2"], "drafting")
    request = h.distill_request(project, student, teacher, snaps, smoke, DISTILL["drafting"])
    job, _, distill_s, forced = h.train(project, engineer, request)
    evaluation = Job.objects.get(pk=job.metrics["evaluation_job"])
    status, evaluation_s = h._run_job(evaluation, run_evaluation_job)
    h._must(status, evaluation, "the drafting evaluation")
    report = EvalReport.objects.get(job=evaluation)
    judged = report.metrics.get("judge") or {}
    generation = (report.metrics.get("generation") or {}).get("overall", {})
    per_token = (report.speed or {}).get("per_token") or {}
    agreement = judged.get("agreement") or {}
    say(f"drafting report #{report.pk}: notes {report.metrics.get('notes')}")
    return {
        "gen_report": report.pk,
        "gen_gold_items": report.metrics.get("n_items"),
        "gen_judged_retained": (judged.get("retained") or {}).get("ratio"),
        "gen_judged_retained_ci95": (judged.get("retained") or {}).get("ci95"),
        "gen_judged_n": judged.get("n"),
        "gen_judged_unscored": (judged.get("unscored") or {}).get("count"),
        "gen_chrf_retained": (generation.get("chrf_retained") or {}).get("ratio"),
        "gen_chrf_retained_ci95": (generation.get("chrf_retained") or {}).get("ci95"),
        "gen_chrf_student": ((generation.get("student") or {}).get("chrf") or {}).get("mean"),
        "gen_chrf_teacher": ((generation.get("teacher") or {}).get("chrf") or {}).get("mean"),
        "gen_speedup_per_token": per_token.get("speedup"),
        "gen_ms_per_token": [per_token.get("student_ms_per_token"), per_token.get("teacher_ms_per_token")],
        "gen_per_token_threads": per_token.get("threads"),
        "judge_human_agreement": agreement.get("weighted_kappa"),
        "judge_human_spearman": agreement.get("spearman"),
        "judge_human_n": agreement.get("n", 0),
        "judge_trustworthy": agreement.get("trustworthy", False),
        "gen_simulated_reviewer": grades,
        "gen_generation_s": generation_s,
        "gen_distill_s": distill_s,
        "gen_evaluation_s": evaluation_s,
        "gen_gates_forced": forced,
        "gen_kd_mode": job.metrics.get("kd_mode"),
    }


def _r(x, n=4):
    return round(x, n) if isinstance(x, float) else x


def figures(f: dict) -> tuple[list, dict, dict]:
    """(table rows, JSON keys, targets) of the drafting leg."""

    def ci(v):
        return f"[{v[0]:.3f}, {v[1]:.3f}]" if v else "n/a"

    def num(v, fmt="{:.3f}"):
        return fmt.format(v) if isinstance(v, (int, float)) else "n/a"

    judged, sp = f["gen_judged_retained"], f["gen_speedup_per_token"]
    rows = [
        ("drafting: judged quality retained", num(judged), f"95% CI {ci(f['gen_judged_retained_ci95'])} over "
         f"{f['gen_judged_n']} gold replies (judge: the teacher, rubric grades 1-5); target >= {TARGET_JUDGED}"),
        ("drafting: chrF retained", num(f["gen_chrf_retained"]), f"95% CI {ci(f['gen_chrf_retained_ci95'])}; chrF "
         f"student {num(f['gen_chrf_student'], '{:.1f}')} / teacher {num(f['gen_chrf_teacher'], '{:.1f}')}"),
        ("drafting: speed-up per generated token", num(sp, "{:.2f}x"), f"matched lengths, {f['gen_per_token_threads']} "
         f"thread(s) for both; ms/token {f['gen_ms_per_token']}; target >= {TARGET_SPEEDUP_PER_TOKEN}x"),
        ("drafting: judge vs reviewers (kappa)", num(f["judge_human_agreement"]), f"n = {f['judge_human_n']}, "
         f"Spearman {num(f['judge_human_spearman'])}; against a SIMULATED reviewer "
         f"({f['gen_simulated_reviewer']['by']})"),
    ]  # fmt: skip
    keys = {
        "gen_judged_retained": _r(judged),
        "gen_judged_retained_ci95": [_r(x) for x in f["gen_judged_retained_ci95"] or []] or None,
        "gen_judged_n": f["gen_judged_n"],
        "gen_chrf_retained": _r(f["gen_chrf_retained"]),
        "gen_chrf_retained_ci95": [_r(x) for x in f["gen_chrf_retained_ci95"] or []] or None,
        "gen_speedup_per_token": _r(sp, 3),
        "gen_per_token_threads": f["gen_per_token_threads"],
        "judge_human_agreement": _r(f["judge_human_agreement"]),
        "judge_human_spearman": _r(f["judge_human_spearman"]),
        "judge_human_n": f["judge_human_n"],
        "judge_trustworthy": f["judge_trustworthy"],
        "judge_human_simulated": True,
        "gen_gates_forced": len(f["gen_gates_forced"]),
        "gen_distill_s": round(f["gen_distill_s"], 1),
    }
    targets = {
        "gen_judged_retained": judged is not None and judged >= TARGET_JUDGED,
        "gen_speedup_per_token": sp is not None and sp >= TARGET_SPEEDUP_PER_TOKEN,
    }
    return rows, keys, targets
