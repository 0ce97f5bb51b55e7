"""Blind side-by-side review pages (rules in ``services/review/pairwise.py``).

The review page shows one prompt and two answers as "A" (left) and "B" (right); it never
names a model or says which side a model is on: the shuffle is stored per pair and the
form posts only what the reviewer pressed (left, right, tie, both_bad).
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from curation.access import project_for
from curation.models import EvalReport, PairComparison, PairItem, Role
from curation.services import review
from curation.services.errors import Invalid
from curation.services.inputs import parse_id

KEYS = (("left", "a", "A is better"), ("right", "b", "B is better"), ("tie", "t", "Tie"), ("both_bad", "x", "Both bad"))


def _comparison(project, pk):
    return get_object_or_404(PairComparison.objects.select_related("report_a", "report_b"), project=project, pk=pk)


@login_required
def comparison_list(request, slug):
    project = project_for(request.user, slug, Role.REVIEWER)
    if request.method == "POST":
        project = project_for(request.user, slug, Role.ENGINEER)
        reports = EvalReport.objects.filter(project=project)
        report_a = reports.filter(pk=parse_id(request.POST.get("report_a", ""))).first()
        raw_b = request.POST.get("report_b", "")
        report_b = reports.filter(pk=parse_id(raw_b)).first() if raw_b else None
        try:
            if report_a is None or (raw_b and report_b is None):
                raise Invalid({"report_a" if report_a is None else "report_b": ["no such report in this project"]})
            comparison = review.create_comparison(
                project, report_a, report_b, by=request.user, second_pass=bool(request.POST.get("second_pass"))
            )
        except Invalid as exc:
            messages.error(request, f"No comparison was made: {exc}.")
            return redirect("pair-list", slug=slug)
        messages.success(request, f"{comparison} is ready: {comparison.items.count()} pairs, sides shuffled.")
        return redirect("pair-detail", slug=slug, pk=comparison.pk)
    comparisons = PairComparison.objects.filter(project=project).select_related("report_a")[:100]
    rows = [{"comparison": c, "results": review.pair_results(c)} for c in comparisons]
    return render(request, "curation/pair_list.html", {"project": project, "rows": rows})


@login_required
def comparison_detail(request, slug, pk):
    project = project_for(request.user, slug, Role.REVIEWER)
    comparison = _comparison(project, pk)
    context = {"project": project, "comparison": comparison, "results": review.pair_results(comparison)}
    return render(request, "curation/pair_detail.html", context)


@login_required
def next_pair(request, slug, pk):
    project = project_for(request.user, slug, Role.REVIEWER)
    comparison = _comparison(project, pk)
    item = review.claim_next_pair(comparison, request.user)
    if item is None:
        messages.info(request, "No pair is waiting for you in this comparison.")
        return redirect("pair-detail", slug=slug, pk=pk)
    return redirect("pair-review", slug=slug, pk=pk, item=item.pk)


@login_required
def pair_review(request, slug, pk, item):
    project = project_for(request.user, slug, Role.REVIEWER)
    comparison = _comparison(project, pk)
    pair = get_object_or_404(PairItem.objects.select_related("prompt"), comparison=comparison, pk=item)
    status = 200
    if request.method == "POST":
        try:
            review.decide_pair(pair, request.user, request.POST.get("choice", ""), request.POST.get("note", ""))
        except Invalid as exc:
            messages.error(request, str(exc))
            status = 409 if exc.code == "conflict" else 400
        else:
            return redirect("pair-next", slug=slug, pk=pk)
    left, right = pair.sides()
    context = {
        "project": project,
        "comparison": comparison,
        "pair": pair,
        "left": left,
        "right": right,
        "keys": KEYS,
        "note": request.POST.get("note", "") if request.method == "POST" else "",
    }
    return render(request, "curation/pair_review.html", context, status=status)


@login_required
def loss_to_example(request, slug, pk, item):
    project = project_for(request.user, slug, Role.REVIEWER)
    comparison = _comparison(project, pk)
    pair = get_object_or_404(PairItem.objects.select_related("prompt"), comparison=comparison, pk=item)
    prompt_text, response, errors, status = pair.prompt.text, pair.answer_b, None, 200
    if request.method == "POST":
        prompt_text, response = request.POST.get("prompt", ""), request.POST.get("response", "")
        try:
            example = review.example_from_loss(pair, request.user, prompt_text, response)
        except Invalid as exc:
            errors, status = exc.flat(), 400
        else:
            messages.success(request, "A pending example was added to the pool from this loss.")
            return redirect("review-focus", slug=slug, pk=example.pk)
    context = {
        "project": project,
        "comparison": comparison,
        "pair": pair,
        "prompt_text": prompt_text,
        "response": response,
        "errors": errors,
        "notes": list(pair.pair_verdicts.exclude(note="").values_list("note", flat=True)),
    }
    return render(request, "curation/pair_loss.html", context, status=status)


@login_required
@require_POST
def comparison_from_report(request, slug, pk):
    """The report page's button: student vs teacher on this report's gold answers."""
    project = project_for(request.user, slug, Role.ENGINEER)
    report = get_object_or_404(EvalReport, project=project, pk=pk)
    try:
        comparison = review.create_comparison(
            project, report, by=request.user, second_pass=bool(request.POST.get("second_pass"))
        )
    except Invalid as exc:
        messages.error(request, f"No comparison was made: {exc}.")
        return redirect("report-detail", slug=slug, pk=pk)
    return redirect("pair-detail", slug=slug, pk=comparison.pk)
