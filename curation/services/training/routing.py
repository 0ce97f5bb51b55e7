"""The routing simulation of an evaluation report (the core is ``workers.routing``).

Computed when asked, from the report's per-item scores and the model specs' current
prices, so a price set after the evaluation counts. Reports written before the
evaluation recorded the student's confidence have no simulation (None).
"""

from __future__ import annotations

from curation.models import EvalReport
from curation.services.errors import Invalid
from curation.services.inputs import to_number
from curation.services.modelspecs import request_costs
from workers.routing import DEFAULT_TARGET, simulate


def parse_target(raw) -> float:
    """The quality target as a share of the teacher's (0.99 = 99%); ``Invalid`` on ``target``."""
    if raw in (None, ""):
        return DEFAULT_TARGET
    try:
        value = to_number(raw)
    except ValueError:
        raise Invalid({"target": [f"A number in (0, 1], e.g. 0.99; got {str(raw)[:30]!r}."]}) from None
    if not 0 < value <= 1:
        raise Invalid({"target": [f"A share of the teacher's quality in (0, 1], e.g. 0.99; got {value:g}."]})
    return value


def routing_of(report: EvalReport, target: float = DEFAULT_TARGET) -> dict | None:
    per = report.per_item or {}
    if not per.get("student_confidence"):
        return None
    gold = {
        "confidence": per["student_confidence"],
        "student": per["student"],
        "teacher": per["teacher"],
        "student_latency_s": per["student_latency_s"],
        "teacher_latency_s": per["teacher_latency_s"],
    }
    specs = {
        "student": report.model_version.student_spec if report.model_version_id else None,
        "teacher": report.teacher_spec,
    }
    prices = {side: (spec.pricing if spec is not None else {}) or {} for side, spec in specs.items()}
    notes = []
    if all(prices.values()):
        for side in ("student", "teacher"):
            gold[f"{side}_cost"] = request_costs(
                prices[side], per["input_tokens"], per[f"{side}_output_tokens"], per[f"{side}_latency_s"]
            )
    else:
        missing = [f"the {side}'s model spec" for side, price in prices.items() if not price]
        notes.append(f"no prices on {' and '.join(missing)}: the cost of the mix is not computed (set them there)")
    val = per.get("validation")
    validation = (
        {"confidence": val["student_confidence"], "student": val["student"], "teacher": val["teacher"]}
        if val and val.get("student_confidence")
        else None
    )
    result = simulate(gold, validation, target=target)
    result["basis"] = "the dev set" if (val or {}).get("source") == "dev" else "the snapshots' validation rows"
    result["notes"] = notes + result["notes"]
    result["prices"] = prices
    result["confidence"] = (
        "top label probability" if (report.metrics or {}).get("task") == "classification" else "mean token log-prob"
    )
    result["latency_note"] = "measured one request at a time on the evaluating machine"
    return result
