"""What the report page shows of a generation report's free-text quality: chrF, ROUGE-L,
the checks' pass rate and lengths (``workers.genmetrics``), overall and by tier, each with
its 95% interval and n, and what the student keeps of the teacher's scores."""

from __future__ import annotations

from curation.models import EvalReport

# key -> (label, scale: multiply the stored value by this to show it, unit)
FIGURES = (
    ("chrf", "chrF vs the gold reference (0-100)", 1.0, ""),
    ("rouge_l", "ROUGE-L F vs the gold reference", 100.0, "%"),
    ("check_pass_rate", "Automatic checks passed", 100.0, "%"),
)


def _with_interval(figure: dict | None, scale: float, unit: str) -> str:
    if not figure or figure.get("mean") is None:
        return "–"
    text = f"{figure['mean'] * scale:.1f}{unit}"
    ci = figure.get("ci95")
    if ci and None not in ci:
        text += f" [{ci[0] * scale:.1f}–{ci[1] * scale:.1f}]"
    return text


def retained_text(block: dict | None) -> str:
    if not block or block.get("ratio") is None:
        return "–"
    text = f"{block['ratio'] * 100:.1f}%"
    if block.get("ci95"):
        text += f" [{block['ci95'][0] * 100:.1f}–{block['ci95'][1] * 100:.1f}%]"
    return text


def _rows(block: dict) -> list[dict]:
    s, t = block.get("student", {}), block.get("teacher", {})
    rows = [
        {
            "label": label,
            "student": _with_interval(s.get(key), scale, unit),
            "teacher": _with_interval(t.get(key), scale, unit),
        }
        for key, label, scale, unit in FIGURES
        if key in s or key in t
    ]
    sl, tl = s.get("length") or {}, t.get("length") or {}

    def num(v, fmt="{:.1f}"):
        return "–" if v is None else fmt.format(v)

    def pair(key_a, key_b):
        return {side: f"{num(d.get(key_a))} / {num(d.get(key_b))}" for side, d in (("student", sl), ("teacher", tl))}

    rows += [
        {"label": "Length, tokens (mean / p95)", **pair("tokens_mean", "tokens_p95")},
        {"label": "Length, characters (mean / p95)", **pair("chars_mean", "chars_p95")},
        {
            "label": "Length ÷ reference length (mean)",
            "student": num(sl.get("ratio_to_reference"), "{:.2f}"),
            "teacher": num(tl.get("ratio_to_reference"), "{:.2f}"),
        },
        {
            "label": "Empty answers",
            "student": num(sl.get("empty"), "{:.0f}"),
            "teacher": num(tl.get("empty"), "{:.0f}"),
        },
    ]
    return rows


def generation_context(report: EvalReport) -> dict:
    """The free-text section of a generation report (empty for reports made before it existed)."""
    generation = (report.metrics or {}).get("generation")
    if not generation:
        return {}
    overall = generation.get("overall", {})
    tiers = [
        {
            "tier": name,
            "n": block.get("student", {}).get("n", 0),
            "chrf_student": _with_interval(block.get("student", {}).get("chrf"), 1.0, ""),
            "chrf_teacher": _with_interval(block.get("teacher", {}).get("chrf"), 1.0, ""),
            "chrf_retained": retained_text(block.get("chrf_retained")),
            "rouge_student": _with_interval(block.get("student", {}).get("rouge_l"), 100.0, "%"),
            "rouge_teacher": _with_interval(block.get("teacher", {}).get("rouge_l"), 100.0, "%"),
        }
        for name, block in generation.get("by_tier", {}).items()
    ]
    return {
        "gen_rows": _rows(overall),
        "gen_n": overall.get("student", {}).get("n"),
        "gen_chrf_retained": retained_text(overall.get("chrf_retained")),
        "gen_rouge_retained": retained_text(overall.get("rouge_l_retained")),
        "gen_tiers": tiers if len(tiers) > 1 or (tiers and tiers[0]["tier"] != "untiered") else [],
        "per_token": (report.speed or {}).get("per_token"),
    }


def _mean_ci(figure: dict | None, fmt: str = "{:.2f}") -> str:
    if not figure or figure.get("mean") is None:
        return "–"
    text = fmt.format(figure["mean"])
    if figure.get("ci95") and None not in figure["ci95"]:
        text += f" [{fmt.format(figure['ci95'][0])}–{fmt.format(figure['ci95'][1])}]"
    return text


def judge_context(report: EvalReport) -> dict:
    """The judged-quality section: scores with intervals, retained, by tier, and whether the
    judge agrees with reviewers well enough to be trusted."""
    metrics = report.metrics or {}
    if "judge" not in metrics:
        return {}
    block = metrics.get("judge")
    if not block:
        return {"judge_missing": True}
    agreement = block.get("agreement") or {}

    def side(b, name):
        return {
            "expected": _mean_ci((b.get(name) or {}).get("expected")),
            "normalized": _mean_ci((b.get(name) or {}).get("normalized")),
        }

    tiers = [
        {"tier": name, "n": (b.get("student") or {}).get("n", 0), "student": side(b, "student"),
         "teacher": side(b, "teacher"), "retained": retained_text(b.get("retained"))}
        for name, b in (block.get("by_tier") or {}).items()
    ]  # fmt: skip
    return {
        "judge": {
            "name": block.get("judge"),
            "grades": ", ".join(block.get("grades") or []),
            "rubric": block.get("rubric", ""),
            "n": block.get("n", 0),
            "student": side(block, "student"),
            "teacher": side(block, "teacher"),
            "retained": retained_text(block.get("retained")),
            "unscored": block.get("unscored") or {},
            "tiers": tiers if len(tiers) > 1 or (tiers and tiers[0]["tier"] != "untiered") else [],
            "agreement": {
                "n": agreement.get("n", 0),
                "spearman": "–" if agreement.get("spearman") is None else f"{agreement['spearman']:.2f}",
                "kappa": "–" if agreement.get("weighted_kappa") is None else f"{agreement['weighted_kappa']:.2f}",
                "trustworthy": agreement.get("trustworthy", False),
                "reason": agreement.get("reason", ""),
                "min_items": agreement.get("min_items"),
                "min_kappa": agreement.get("min_kappa"),
            },
        }
    }


def pairwise_context(report: EvalReport) -> dict:
    """The blind side-by-side comparisons that put this report's student on side A."""
    from curation.models import PairComparison
    from curation.services import review

    if (report.metrics or {}).get("task") != "generation":
        return {}
    comparisons = PairComparison.objects.filter(report_a=report).order_by("-id")[:5]
    return {
        "pairwise": [{"comparison": c, "results": review.pair_results(c)} for c in comparisons],
        "pairwise_possible": "student_outputs" in (report.per_item or {}),
    }
