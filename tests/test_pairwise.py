"""Blind side-by-side review: shuffled unlabelled sides, leases and second pass, the
verdict's meaning, the win rate with its Wilson interval, and losses turned into examples."""

import itertools
import re

import pytest
from django.urls import reverse
from scipy.stats import binomtest

from curation.models import Example, PairItem, PairVerdict
from curation.services import review
from curation.services.errors import Invalid
from tests import pairkit


@pytest.fixture
def gold(project):
    return pairkit.gold_items(project, 6)


def test_sides_are_shuffled_over_many_pairs_independently_of_order(project):
    gold = pairkit.gold_items(project, 400)
    comparison = review.create_comparison(project, pairkit.report(project, gold))
    flags = list(comparison.items.order_by("id").values_list("a_on_left", flat=True))
    assert len(flags) == 400
    # a fair coin per pair: neither side is favoured ...
    assert binomtest(sum(flags), len(flags)).pvalue > 1e-4
    # ... and there is no pattern in order (about as many changes as a coin gives: 399/2, sd 10)
    changes = sum(a != b for a, b in itertools.pairwise(flags))
    assert 140 < changes < 260
    again = review.create_comparison(project, pairkit.report(project, gold, name="other"))
    assert list(again.items.order_by("id").values_list("a_on_left", flat=True)) != flags


def test_the_review_page_never_names_a_model_or_a_side(project, client_as, gold):
    comparison = review.create_comparison(project, pairkit.report(project, gold))
    client = client_as("reviewer")
    seen_left = set()
    for pair in comparison.items.all():
        page = client.get(reverse("pair-review", args=[project.slug, comparison.pk, pair.pk])).content.decode()
        for secret in (pairkit.STUDENT_NAME, pairkit.TEACHER_NAME, comparison.label_a, comparison.label_b,
                       "a_on_left", "student", "teacher", "Student", "Teacher"):  # fmt: skip
            assert secret not in page, secret
        left = re.search(r'id="side-a"><h2>A</h2><pre class="plain answer">([^<]*)</pre>', page).group(1)
        assert left == (pair.answer_a if pair.a_on_left else pair.answer_b)
        seen_left.add(left.split()[0])
    assert comparison.items.filter(a_on_left=True).exists() == ("alpha" in seen_left)


def test_a_verdict_means_what_the_reviewer_saw_and_the_win_rate_has_a_wilson_interval(project, member, gold):
    comparison = review.create_comparison(project, pairkit.report(project, gold))
    reviewer = member("reviewer")
    outcomes = []
    for i in range(6):
        pair = review.claim_next_pair(comparison, reviewer)
        choice = ["left", "right", "left", "right", "tie", "both_bad"][i]
        verdict = review.decide_pair(pair, reviewer, choice, note=f"note {i}")
        shown_a = "left" if pair.a_on_left else "right"
        expected = {"tie": "tie", "both_bad": "both_bad"}.get(choice, "a" if choice == shown_a else "b")
        assert verdict.outcome == expected and verdict.chose == choice
        outcomes.append(expected)
    assert review.claim_next_pair(comparison, reviewer) is None
    results = review.pair_results(comparison)
    wins, losses = outcomes.count("a"), outcomes.count("b")
    overall = results["overall"]
    assert (overall["a_better"], overall["b_better"], overall["ties"], overall["both_bad"]) == (wins, losses, 1, 1)
    assert overall["win_rate"] == pytest.approx(wins / (wins + losses))
    ci = binomtest(wins, wins + losses).proportion_ci(method="wilson")
    assert overall["ci95"] == pytest.approx([ci.low, ci.high])
    assert set(results["by_tier"]) == {t.name for t in project.tiers.all()[:2]}
    assert {p.pk for p in results["losses"]} == set(
        PairVerdict.objects.filter(outcome="b").values_list("item_id", flat=True)
    )


def test_leases_hand_reviewers_different_pairs_and_second_pass_needs_another_reviewer(project, member, gold):
    comparison = review.create_comparison(project, pairkit.report(project, gold[:2]), second_pass=True)
    first, second = member("reviewer"), member("engineer")
    a = review.claim_next_pair(comparison, first)
    b = review.claim_next_pair(comparison, second)
    assert a.pk != b.pk
    with pytest.raises(Invalid) as refused:
        review.decide_pair(b, first, "left")
    assert refused.value.code == "conflict"
    review.decide_pair(a, first, "left")
    # the pair waiting for its second verdict comes first, and never to the same reviewer
    assert review.claim_next_pair(comparison, second).pk == a.pk
    assert review.claim_next_pair(comparison, first).pk == b.pk
    with pytest.raises(Invalid):
        review.decide_pair(a, first, "right")  # already judged it
    review.decide_pair(a, second, "tie")
    assert PairItem.objects.get(pk=a.pk).done and not PairItem.objects.get(pk=b.pk).done
    with pytest.raises(Invalid) as bad:
        review.decide_pair(b, first, "maybe")
    assert "choice" in bad.value.errors


def test_version_a_against_version_b_pairs_the_same_gold_items(project, gold):
    a = pairkit.report(project, gold, name="v1")
    b = pairkit.report(project, gold[:4], name="v2", student=lambda i: f"v2 answer {i}")
    comparison = review.create_comparison(project, a, b)
    assert comparison.items.count() == 4
    assert set(comparison.items.values_list("answer_b", flat=True)) == {f"v2 answer {i}" for i in range(4)}
    assert "v2" in comparison.label_b
    with pytest.raises(Invalid):
        review.create_comparison(project, a, a)


def test_a_loss_becomes_a_pending_example_but_never_on_the_gold_prompt(project, client, member, gold):
    comparison = review.create_comparison(project, pairkit.report(project, gold[:1]))
    reviewer = member("reviewer")
    pair = review.claim_next_pair(comparison, reviewer)
    review.decide_pair(pair, reviewer, "right" if pair.a_on_left else "left", note="A <b>missed</b> the refund")
    client.force_login(reviewer)
    url = reverse("pair-loss", args=[project.slug, comparison.pk, pair.pk])
    page = client.get(url).content.decode()
    assert "A &lt;b&gt;missed&lt;/b&gt; the refund" in page
    refused = client.post(url, {"prompt": "  ticket 0: PLEASE help with case 0 ", "response": "x"})
    assert refused.status_code == 400 and "gold never trains" in refused.content.decode()
    assert not Example.objects.exists()
    done = client.post(url, {"prompt": "Ticket: help with a refund case", "response": "We refunded it."})
    example = Example.objects.get()
    assert done.status_code == 302 and done["Location"] == reverse("review-focus", args=[project.slug, example.pk])
    assert example.status == "pending" and example.stage == project.pool and example.response == "We refunded it."


def test_the_report_page_shows_the_win_rate_and_engineers_start_a_review(project, client, member, gold):
    report = pairkit.report(project, gold)
    someone = member("reviewer")
    reviewer_client = client
    reviewer_client.force_login(someone)
    assert reviewer_client.post(reverse("report-pairs", args=[project.slug, report.pk])).status_code == 403
    assert reviewer_client.post(reverse("pair-list", args=[project.slug]), {"report_a": report.pk}).status_code == 403
    engineer = client
    engineer.force_login(member("engineer"))
    response = engineer.post(reverse("report-pairs", args=[project.slug, report.pk]))
    comparison = report.project.pair_comparisons.get()
    assert response["Location"] == reverse("pair-detail", args=[project.slug, comparison.pk])
    for _ in range(6):
        pair = review.claim_next_pair(comparison, someone)
        review.decide_pair(pair, someone, "left" if pair.a_on_left else "right")  # A wins every pair
    page = engineer.get(reverse("report-detail", args=[project.slug, report.pk])).content.decode()
    assert "Blind side-by-side review" in page and "<b>100%</b> of decided pairs" in page and "n = 6" in page
    assert "50% = parity" in page
