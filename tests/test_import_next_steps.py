"""After an import the page leads on: Generate on exactly the new prompts, the gold candidates to
confirm; Generate's default answers only the prompts this teacher has not answered."""

import io
import json
import re

import pytest
from django.urls import reverse

from curation.models import Prompt, TeacherSample
from curation.services.teacher import id_ranges
from tests.genkit import TICKETS, add_prompts, teacher_spec


def upload(client, project, *rows):
    data = io.BytesIO("\n".join(json.dumps(r) for r in rows).encode())
    data.name = "p.jsonl"
    return client.post(reverse("project-import", args=[project.slug]), {"file": data}).content.decode()


def links(html):
    return [a.replace("&amp;", "&") for a in re.findall(r'href="([^"]+)"', html)]


@pytest.mark.django_db
def test_the_result_links_to_generate_on_the_new_prompts_and_to_the_gold_candidates(project, client_as):
    add_prompts(project, ["an older prompt"])
    html = upload(client_as("engineer"), project, {"prompt": "one"}, {"prompt": "two"}, {"prompt": "three"},
                  {"prompt": "gold one", "reference": "answer"})  # fmt: skip
    new = sorted(Prompt.objects.filter(project=project).exclude(text__in=["an older prompt", "gold one"]).values_list(
        "id", flat=True))  # fmt: skip
    generate = reverse("gen-launch", args=[project.slug])
    assert f"{generate}?scope=missing&ids={id_ranges(new).replace(', ', '%2C+')}" in links(html)
    assert "Let the teacher answer the 3 new prompts" in " ".join(html.split())
    assert reverse("gold-list", args=[project.slug]) + "?state=candidates" in links(html)
    assert "Confirm the 1 gold candidate" in " ".join(html.split())


@pytest.mark.django_db
def test_an_import_of_only_duplicates_offers_no_generation(project, client_as):
    add_prompts(project, ["one"])
    html = upload(client_as("engineer"), project, {"prompt": "one"})
    assert "Let the teacher answer" not in html and "Confirm the" not in html


def test_id_ranges_fold_runs_and_parse_back():
    from curation.services.teacher import parse_ids

    assert id_ranges([8, 4, 15, 16, 17, 5]) == "4-5, 8, 15-17"
    assert parse_ids(id_ranges([3, 9, 10, 11, 40])) == [3, 9, 10, 11, 40]


@pytest.mark.django_db
def test_the_generate_link_opens_on_those_prompts_without_answered_ones(project, client_as, tmp_path):
    spec = teacher_spec(project, tmp_path / "teacher")
    prompts = add_prompts(project, TICKETS[:4])
    TeacherSample.objects.create(prompt=prompts[0], model_spec=spec, text="done already")
    ids = id_ranges(p.id for p in prompts[:3])
    html = client_as("engineer").get(reverse("gen-launch", args=[project.slug]), {"scope": "missing", "ids": ids})
    flat = " ".join(html.content.decode().split())
    assert f'name="ids" value="{ids}"' in flat
    assert '<b class="big-number">2</b> prompts match' in flat  # the answered one is left out


@pytest.mark.django_db
def test_generate_defaults_to_the_prompts_this_teacher_has_not_answered_and_counts_both(project, client_as, tmp_path):
    spec = teacher_spec(project, tmp_path / "teacher")
    prompts = add_prompts(project, TICKETS[:5])
    for p in prompts[:2]:
        TeacherSample.objects.create(prompt=p, model_spec=spec, text="answered")
    html = client_as("engineer").get(reverse("gen-launch", args=[project.slug])).content.decode()
    flat = " ".join(html.split())
    assert re.search(r'value="missing"[^>]*checked', flat)
    assert "Prompts without an answer from this teacher: 3" in flat
    assert "All prompts (answered ones are answered again): 5" in flat
    assert '<b class="big-number">3</b> prompts match' in flat
