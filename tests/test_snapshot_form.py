"""The snapshot form the dashboard's "Build one" link opens: a name ready to use, a clear error when emptied."""

import pytest
from django.urls import reverse
from django.utils import timezone

from curation.models import Snapshot


def page(client, project, **query):
    return client.get(reverse("snapshot-list", args=[project.slug]), query).content.decode()


def dated_page(client, project, **query):
    """The page and the dates it may name: the day before and after it was built (a run may cross midnight)."""
    before = f"{timezone.localdate():%Y-%m-%d}"
    html = page(client, project, **query)
    return html, {before, f"{timezone.localdate():%Y-%m-%d}"}


@pytest.mark.django_db
def test_the_build_link_opens_the_form_with_a_name_from_the_stage_and_the_date(project, client_as):
    html, days = dated_page(client_as("engineer"), project, stage="stage 2")
    assert any(f'name="name" value="stage 2 {day}"' in html for day in days)
    assert '<details class="card" open>' in html


@pytest.mark.django_db
def test_a_filter_link_names_the_snapshot_after_the_filter(project, client_as):
    html, days = dated_page(client_as("engineer"), project, filter="tier=hard")
    assert any(f'value="filtered {day}"' in html for day in days)


@pytest.mark.django_db
def test_the_plain_page_keeps_the_form_folded(project, client_as):
    html = page(client_as("engineer"), project)
    assert '<details class="card" >' in html


@pytest.mark.django_db
def test_an_emptied_name_is_refused_by_the_server_with_words(project, client_as):
    client = client_as("engineer")
    response = client.post(
        reverse("snapshot-list", args=[project.slug]),
        {"name": "  ", "source": "stage", "stage": "stage 1", "seed": 0, "validation_fraction": 0.1},
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "Give the snapshot a name" in html
    assert not Snapshot.objects.exists()
    # The browser's bare "Please fill out this field" no longer stands in for it.
    assert 'name="name" maxlength="200" required' not in html and " required" not in html.split('name="name"')[1][:80]
