"""Blind side-by-side review over the API: claim a pair (left/right, no model named),
submit verdicts, read the win rate."""

from curation.models import PairVerdict
from curation.services import review
from tests import pairkit


def url(project, comparison, tail=""):
    return f"/api/v1/projects/{project.slug}/pairs/{comparison.pk}{tail}"


def test_a_reviewer_claims_pairs_and_submits_verdicts_until_none_is_left(api, project):
    gold = pairkit.gold_items(project, 4)
    comparison = review.create_comparison(project, pairkit.report(project, gold))
    client = api("reviewer")
    answered = []
    while True:
        response = client.post(url(project, comparison, "/next"))
        if response.status_code == 204:
            break
        body = response.json()
        assert set(body) == {"comparison", "item", "prompt", "left", "right"}
        text = response.content.decode()
        assert pairkit.STUDENT_NAME not in text and pairkit.TEACHER_NAME not in text and "a_on_left" not in text
        choice = "left" if body["left"].startswith("alpha") else "right"  # always prefer A (the student)
        verdict = client.post(
            url(project, comparison, f"/items/{body['item']}/verdict"),
            {"choice": choice, "note": "clearer"},
            content_type="application/json",
        )
        assert verdict.status_code == 201 and verdict.json() == {"item": body["item"]}
        answered.append(body["item"])
    assert len(answered) == 4
    assert set(PairVerdict.objects.values_list("outcome", flat=True)) == {"a"}
    again = client.post(
        url(project, comparison, f"/items/{answered[0]}/verdict"), {"choice": "tie"}, content_type="application/json"
    )
    assert again.status_code == 409
    results = client.get(url(project, comparison)).json()
    assert results["overall"]["win_rate"] == 1.0 and results["overall"]["a_better"] == 4
    low, high = results["overall"]["ci95"]
    assert 0.4 < low < 1.0 and high == 1.0
    assert results["pairs_done"] == 4 and results["losses"] == []


def test_a_bad_choice_is_a_400_naming_the_field_and_records_nothing(api, project):
    comparison = review.create_comparison(project, pairkit.report(project, pairkit.gold_items(project, 1)))
    client = api("reviewer")
    item = client.post(url(project, comparison, "/next")).json()["item"]
    response = client.post(
        url(project, comparison, f"/items/{item}/verdict"), {"choice": "A"}, content_type="application/json"
    )
    assert response.status_code == 400 and "choice" in response.json()
    assert not PairVerdict.objects.exists()


def test_a_pair_leased_to_another_reviewer_is_a_409(api, project, member):
    comparison = review.create_comparison(project, pairkit.report(project, pairkit.gold_items(project, 1)))
    holder = member("engineer")
    item = review.claim_next_pair(comparison, holder)
    client = api("reviewer")
    assert client.post(url(project, comparison, "/next")).status_code == 204
    response = client.post(
        url(project, comparison, f"/items/{item.pk}/verdict"), {"choice": "tie"}, content_type="application/json"
    )
    assert response.status_code == 409 and "another reviewer" in response.content.decode()
