import math

import pytest
from django.http import QueryDict

from curation.services.review import filtered_examples
from tests.factories import ExampleFactory, PromptFactory, UserFactory


@pytest.fixture
def examples(project):
    tiers = {t.name: t for t in project.tiers.all()}
    alice = UserFactory(username="alice")
    rows = []
    for i in range(45):
        rows.append(
            ExampleFactory(
                prompt=PromptFactory(project=project, text=f"ticket {i} about {'refunds' if i % 3 == 0 else 'login'}"),
                difficulty=None if i % 7 == 0 else (i % 10) / 10,
                mean_logprob=math.log(0.05 + i / 50),
                tier=tiers["hard"] if i % 2 else tiers["easy"],
                status="approved" if i % 5 == 0 else "pending",
                reviewed_by=alice if i % 4 == 0 else None,
                grade=(i % 5) + 1 if i % 6 else None,
            )
        )
    return rows


def base(project):
    return f"/api/v1/projects/{project.slug}/examples/"


def walk(client, url):
    """Every id across the pages, following `next`."""
    ids, pages = [], 0
    while url:
        body = client.get(url).json()
        ids += [e["id"] for e in body["results"]]
        url, pages = body["next"], pages + 1
    return ids, pages


QUERIES = [
    "status=pending&tier=hard&q=REFUNDS",
    "status=approved&status=rejected",
    "confidence_min=0.5",
    "difficulty_min=0.2&difficulty_max=0.6&order=-difficulty",
    "grade=none",
    "grade=3&order=confidence",
    "reviewer=alice&order=newest",
    "tier=none",
    "stage=pool&checks=passed&edited=false",
]


@pytest.mark.parametrize("query", QUERIES)
def test_the_api_returns_exactly_the_review_queues_rows_in_its_order(api, project, examples, query):
    client = api("reviewer")
    ids, pages = walk(client, base(project) + f"?{query}&size=4")
    queue, _cleaned = filtered_examples(project, QueryDict(query))
    expected = sorted(queue.values_list("id", flat=True))
    assert sorted(ids) == expected and len(ids) == len(set(ids))
    if "order=newest" in query:
        assert ids == sorted(ids, reverse=True)
    if "order" not in query:
        assert ids == sorted(ids)
    assert pages >= math.ceil(len(expected) / 4)


def test_a_page_carries_what_a_client_needs_to_decide(api, project, examples):
    body = api("reader").get(base(project) + "?size=1").json()
    row = body["results"][0]
    assert {"id", "prompt", "response", "status", "tier", "stage", "version", "confidence", "has_soft_targets"} <= set(
        row
    )
    assert row["prompt"]["text"].startswith("ticket 0")
    assert row["confidence"] == pytest.approx(0.05)
    assert "cursor=" in body["next"]


@pytest.mark.parametrize(
    "query, field",
    [
        ("colour=red", "colour"),
        ("status=maybe", "status"),
        ("tier=impossible", "tier"),
        ("confidence_min=lots", "confidence_min"),
        ("confidence_max=2", "confidence_max"),
        ("grade=9", "grade"),
        ("order=sideways", "order"),
        ("cursor=not-a-cursor", "cursor"),
        ("size=0", "size"),
        ("size=501", "size"),
        ("size=ten", "size"),
        ("edited=perhaps", "edited"),
        ("q=" + "x" * 201, "q"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(api, project, examples, query, field):
    response = api("reader").get(base(project) + f"?{query}")
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_a_cursor_from_another_order_is_refused(api, project, examples):
    client = api("reader")
    from urllib.parse import parse_qs, urlsplit

    cursor = parse_qs(urlsplit(client.get(base(project) + "?size=2&order=newest").json()["next"]).query)["cursor"][0]
    response = client.get(base(project) + f"?order=difficulty&cursor={cursor}")
    assert response.status_code == 400 and "cursor" in response.json()


def test_an_unknown_example_is_404(api, project, examples):
    client = api("reader")
    assert client.get(base(project) + "999999/").status_code == 404
    assert client.get(base(project) + f"{2**70}/").status_code == 404


def test_prompts_list_filters_by_source_and_text(api, project, examples):
    PromptFactory(project=project, text="Synthetic refund question", source="synthetic")
    client = api("reader")
    body = client.get(f"/api/v1/projects/{project.slug}/prompts/?source=synthetic").json()
    assert [p["text"] for p in body["results"]] == ["Synthetic refund question"]
    found = client.get(f"/api/v1/projects/{project.slug}/prompts/?q=REFUNDS&size=100").json()["results"]
    assert len(found) == 15
    assert client.get(f"/api/v1/projects/{project.slug}/prompts/?source=alien").status_code == 400
    assert client.get(f"/api/v1/projects/{project.slug}/prompts/?page=2").status_code == 400


def test_prompt_pages_walk_every_prompt_once(api, project, examples):
    client = api("reader")
    ids, _ = walk(client, f"/api/v1/projects/{project.slug}/prompts/?size=7")
    assert sorted(ids) == sorted(e.prompt_id for e in examples)
    bad = client.get(f"/api/v1/projects/{project.slug}/prompts/?cursor=garbage")
    assert bad.status_code == 400 and "cursor" in bad.json()


def test_tiers_and_stages_list_in_curriculum_order_with_counts(api, project, examples):
    client = api("reader")
    tiers = client.get(f"/api/v1/projects/{project.slug}/tiers/").json()["results"]
    assert [t["name"] for t in tiers] == ["easy", "medium", "hard"]
    assert sum(t["examples"] for t in tiers) == 45
    stages = client.get(f"/api/v1/projects/{project.slug}/stages/").json()["results"]
    assert stages[0]["is_pool"] and stages[0]["examples"] == 45 and stages[0]["approved"] == 9
