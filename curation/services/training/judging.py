"""Judged quality of a generation report (``workers/judge.py`` does the grading).

At launch an evaluation freezes its judge (``judge_config``): the project's judge spec, or
the evaluated teacher when none is set, with the project's rubric and grades (defaults
when empty). The job then asks the judge to grade every gold item's student answer and
teacher answer, and the examples reviewers graded (the most recent ``AGREEMENT_LIMIT``),
and stores in ``metrics["judge"]``:

- ``student``/``teacher``: mean expected grade and mean normalized score (0 = lowest
  grade, 1 = highest), each with a bootstrap interval, over the items both answers got a
  score on; ``retained``: mean normalized(student) / mean normalized(teacher) with a paired
  bootstrap interval; the same by tier;
- ``agreement``: Spearman and quadratic kappa against the reviewers' grades, with n, and
  whether the judge is trustworthy for this project (``workers.judge.MIN_ITEMS``/``MIN_KAPPA``);
- ``unscored``: items the judge gave no score (no grade among its top tokens), with a reason.

A judge that cannot run (unreachable server, missing key) leaves a note on the report; the
rest of the evaluation stands.
"""

from __future__ import annotations

from collections import defaultdict

from curation.models import Example, ModelSpec, Project
from curation.services.modelspecs import load_spec, teacher_config
from workers.judge import DEFAULT_GRADES, DEFAULT_RUBRIC

AGREEMENT_LIMIT = 500


def judge_config(project: Project, teacher: ModelSpec) -> dict:
    spec = project.judge_spec or teacher
    return {
        "spec": teacher_config(spec),
        "rubric": project.judge_rubric.strip() or DEFAULT_RUBRIC,
        "grades": list(project.judge_grades or DEFAULT_GRADES),
    }


def graded_examples(project: Project) -> list[dict]:
    """The most recently reviewed examples with a reviewer's grade and a response."""
    rows = (
        Example.objects.filter(project=project, grade__isnull=False)
        .annotate(text=Example.response_text_sql())
        .exclude(text="")
        .select_related("prompt")
        .order_by("-reviewed_at", "-id")[:AGREEMENT_LIMIT]
    )
    return [{"id": e.pk, "prompt": e.prompt.model_input, "answer": e.text, "grade": e.grade} for e in rows]


def _side(values: list[dict]) -> dict:
    from workers.stats import bootstrap_mean

    expected = bootstrap_mean([v["expected"] for v in values])
    normalized = bootstrap_mean([v["normalized"] for v in values])
    return {
        "n": expected.n,
        "expected": {"mean": expected.estimate, "ci95": expected.ci},
        "normalized": {"mean": normalized.estimate, "ci95": normalized.ci},
    }


def _compare(student: list[dict], teacher: list[dict]) -> dict:
    from workers.genmetrics import retained

    return {
        "student": _side(student),
        "teacher": _side(teacher),
        "retained": retained([s["normalized"] for s in student], [t["normalized"] for t in teacher]),
    }


def judged_quality(judge_teacher, config: dict, gold: list[dict], per_item: dict, examples: list[dict]) -> dict:
    """Grade the report's answers and the reviewed examples with ``judge_teacher``."""
    from workers.judge import TOP_K, agreement, judge

    rubric, grades = config["rubric"], config["grades"]
    n = len(gold)
    items = [{"prompt": g["prompt"], "answer": a} for g, a in zip(gold, per_item["student_outputs"])]
    items += [{"prompt": g["prompt"], "answer": a} for g, a in zip(gold, per_item["teacher_outputs"])]
    items += [{"prompt": e["prompt"], "answer": e["answer"]} for e in examples]
    # a server judge reads as many top tokens as its server returns (a local one reads the grades themselves)
    judged = judge(judge_teacher, items, rubric, grades, top_k=getattr(judge_teacher, "max_logprobs", TOP_K))
    s_judged, t_judged, e_judged = judged[:n], judged[n : 2 * n], judged[2 * n :]
    both = [i for i in range(n) if s_judged[i].expected is not None and t_judged[i].expected is not None]
    out = {
        "judge": config["spec"].get("name"),
        "grades": grades,
        "rubric": rubric,
        "n": len(both),
        "per_item": {
            "student": [j.expected for j in s_judged],
            "teacher": [j.expected for j in t_judged],
        },
        "unscored": {
            "count": sum(1 for j in s_judged + t_judged if j.expected is None),
            "reason": next((j.error for j in s_judged + t_judged if j.error), None),
        },
    }
    if both:

        def as_dict(j):
            return {"expected": j.expected, "normalized": j.normalized}

        out.update(_compare([as_dict(s_judged[i]) for i in both], [as_dict(t_judged[i]) for i in both]))
        tiers = defaultdict(list)
        for i in both:
            tiers[gold[i].get("tier") or "untiered"].append(i)
        out["by_tier"] = {
            tier: _compare([as_dict(s_judged[i]) for i in idx], [as_dict(t_judged[i]) for i in idx])
            for tier, idx in sorted(tiers.items())
        }
    pairs = [(j.expected, e["grade"]) for j, e in zip(e_judged, examples) if j.expected is not None]
    out["agreement"] = agreement([p[0] for p in pairs], [p[1] for p in pairs], grades)
    return out


def run_judge(config: dict, gold: list[dict], per_item: dict, examples: list[dict]) -> tuple[dict | None, str | None]:
    """(the judge block, None) or (None, a note saying why the judge did not run)."""
    from curation.services.errors import Invalid
    from workers.teacher import TeacherError, load_teacher

    try:
        with load_teacher(load_spec(config["spec"])) as judge_teacher:
            return judged_quality(judge_teacher, config, gold, per_item, examples), None
    except (TeacherError, Invalid, OSError, ValueError) as exc:
        return None, f"the judge {config['spec'].get('name')!r} did not run: {exc}"
