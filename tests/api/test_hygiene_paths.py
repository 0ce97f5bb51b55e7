"""Every path that creates a prompt or changes its text queues the data-hygiene job once per batch, when
its transaction commits: the near-duplicate flags and the personal-data spans are there without anything
having read them first (``ensure_current`` stays the guard's safety net at snapshot time)."""

import io
import json
import threading
import time

import pytest
from django.db import connection, connections, transaction
from django.urls import reverse

from curation.models import GoldItem, Job, Prompt
from curation.services import gold, hygiene, jobs, review
from curation.services.datasets import import_prompts
from tests import pairkit
from tests.api.test_gold_guard import admin_edit
from tests.conftest import require_service
from tests.factories import PromptFactory

GOLD = "Please summarise the attached quarterly report for the board meeting on Friday and list the three main risks."
TWIN = "Hi! Please summarize the attached quarterly report for the board meeting on Friday and list the 3 main risks."
OTHER = "Translate the onboarding checklist into Spanish for the new warehouse staff starting next Monday morning."
PII = "Contact jo.smith@example.com or +1 415-555-0132 about the refund."


@pytest.fixture
def eager(settings, monkeypatch):
    from webapp.celery import app

    # Celery reads its settings once per process: set the app's own conf, whatever ran before. The
    # conf first: were it first read under the overridden setting, its restored value would be eager.
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    settings.CELERY_TASK_ALWAYS_EAGER = True


@pytest.fixture
def gold_item(project):
    item = GoldItem.objects.create(project=project, prompt=PromptFactory(project=project, text=GOLD), reference="x")
    hygiene.refresh_contamination(project)  # the flags are current before the path under test runs
    return item


def hygiene_jobs(project):
    return list(Job.objects.filter(project=project, kind="hygiene").order_by("id"))


def flags(text):
    p = Prompt.objects.get(text=text)
    return p.near_gold_id, p.near_gold_kind, p.has_pii


def test_a_captured_batch_is_checked_by_one_job_when_it_commits(
    project, api, gold_item, eager, django_capture_on_commit_callbacks
):
    items = [{"client_id": f"r{i}", "prompt": text} for i, text in enumerate((TWIN, PII, OTHER))]
    with django_capture_on_commit_callbacks(execute=True):
        response = api("engineer").post(
            reverse("api-capture", args=[project.slug]), {"items": items}, content_type="application/json"
        )
    assert response.status_code == 202, response.content
    (job,) = hygiene_jobs(project)  # one job for the batch, not one per prompt
    assert job.status == "succeeded" and job.params["count"] == 3, (job.status, job.message, job.params)
    assert flags(TWIN) == (gold_item.pk, "near", False)
    assert flags(PII) == (None, "", True)
    assert flags(OTHER) == (None, "", False)


def test_batches_captured_while_the_job_waits_in_the_queue_widen_it(project, api, gold_item):
    client = api("engineer")
    for i, text in enumerate((TWIN, PII)):  # no worker yet: the first batch's job is still queued
        items = [{"client_id": f"r{i}", "prompt": text}]
        client.post(reverse("api-capture", args=[project.slug]), {"items": items}, content_type="application/json")
    (job,) = hygiene_jobs(project)
    ids = sorted(Prompt.objects.filter(text__in=(TWIN, PII)).values_list("id", flat=True))
    assert job.params == {"first_id": ids[0], "last_id": ids[1], "count": 2}
    assert jobs.run(job.pk, hygiene.run_hygiene_job) == "succeeded"
    assert flags(TWIN) == (gold_item.pk, "near", False) and flags(PII) == (None, "", True)
    client.post(
        reverse("api-capture", args=[project.slug]),
        {"items": [{"client_id": "r9", "prompt": OTHER}]},
        content_type="application/json",
    )
    assert len(hygiene_jobs(project)) == 2  # the first one ran: a new batch gets a job of its own


def test_a_resent_capture_batch_queues_no_job(project, api, gold_item, eager, django_capture_on_commit_callbacks):
    items = [{"client_id": "r1", "prompt": TWIN}]
    client = api("engineer")
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            client.post(reverse("api-capture", args=[project.slug]), {"items": items}, content_type="application/json")
    assert len(hygiene_jobs(project)) == 1


def test_a_gold_items_new_prompt_is_checked_for_personal_data(
    project, member, eager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        item = gold.create_gold_item(project, member("engineer"), prompt_text=PII, reference="We will call you.")
    (job,) = hygiene_jobs(project)
    assert job.status == "succeeded" and job.params["first_id"] == item.prompt_id
    assert flags(PII) == (None, "", True)


def test_a_gold_item_on_an_existing_prompt_queues_no_job(project, member, eager, django_capture_on_commit_callbacks):
    prompt = PromptFactory(project=project, text=OTHER)
    with django_capture_on_commit_callbacks(execute=True):
        gold.create_gold_item(project, member("engineer"), prompt=prompt.pk, reference="Hola.")
    assert hygiene_jobs(project) == []


def test_a_pair_loss_written_as_a_new_prompt_is_checked_against_gold(
    project, member, gold_item, eager, django_capture_on_commit_callbacks
):
    comparison = review.create_comparison(project, pairkit.report(project, pairkit.gold_items(project, 1)))
    reviewer = member("reviewer")
    pair = review.claim_next_pair(comparison, reviewer)
    review.decide_pair(pair, reviewer, "right" if pair.a_on_left else "left")
    with django_capture_on_commit_callbacks(execute=True):
        review.example_from_loss(pair, reviewer, TWIN, "The three risks are ...")
    assert [j.status for j in hygiene_jobs(project)] == ["succeeded"]
    assert flags(TWIN) == (gold_item.pk, "near", False)


def test_a_prompt_added_in_the_admin_is_checked(
    project, gold_item, admin_client, eager, django_capture_on_commit_callbacks
):
    data = {"project": project.pk, "text": TWIN, "messages": "null", "source": "human", "metadata": "{}"}
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:curation_prompt_add"), data)
    assert response.status_code == 302, response.content[:2000]
    assert [j.status for j in hygiene_jobs(project)] == ["succeeded"]
    assert flags(TWIN) == (gold_item.pk, "near", False)


def test_an_admin_edit_of_the_text_is_checked_again_both_ways(
    project, gold_item, admin_client, eager, django_capture_on_commit_callbacks
):
    prompt = PromptFactory(project=project, text=OTHER)
    hygiene.ensure_current(project)
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_edit(admin_client, prompt, text=TWIN).status_code == 302
    assert flags(TWIN) == (gold_item.pk, "near", False)
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_edit(admin_client, Prompt.objects.get(pk=prompt.pk), text=PII).status_code == 302
    assert flags(PII) == (None, "", True)  # no longer a twin of gold; its personal data is found
    assert [j.params.get("changed") for j in hygiene_jobs(project)] == [[prompt.pk], [prompt.pk]]
    with django_capture_on_commit_callbacks(execute=True):
        admin_edit(admin_client, Prompt.objects.get(pk=prompt.pk), metadata='{"a": 1}')
    assert len(hygiene_jobs(project)) == 2  # the text did not change: nothing to check


def test_an_edit_whose_job_never_ran_is_caught_when_the_flags_are_next_read(project, gold_item, admin_client):
    """The worker is down: the guard's own check still decides the edited prompt again."""
    prompt = PromptFactory(project=project, text=OTHER)
    hygiene.ensure_current(project)
    assert admin_edit(admin_client, prompt, text=TWIN).status_code == 302  # its job is never run
    assert flags(TWIN) == (None, "", False)
    hygiene.ensure_current(project)
    assert flags(TWIN) == (gold_item.pk, "near", False)
    assert "recheck" not in state_of(project)


def state_of(project):
    project.refresh_from_db()
    return project.hygiene_state


def test_an_import_is_checked_against_gold_even_with_pii_and_clusters_off(
    project, gold_item, eager, django_capture_on_commit_callbacks
):
    hygiene.update_settings(project, {"pii_detect": False, "clusters": False})
    data = "\n".join(json.dumps({"prompt": t}) for t in (TWIN, OTHER)).encode()
    with django_capture_on_commit_callbacks(execute=True):
        assert import_prompts(project, io.BytesIO(data), filename="p.jsonl").ok
    assert [j.status for j in hygiene_jobs(project)] == ["succeeded"]
    assert flags(TWIN) == (gold_item.pk, "near", False)


@pytest.mark.django_db(transaction=True)
def test_a_worker_claiming_the_job_while_a_batch_widens_it_waits_and_reads_the_widened_params(project):
    require_service("DATABASE_URL")
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL")
    first, second = PromptFactory(project=project, text=OTHER), PromptFactory(project=project, text=PII)
    job = Job.objects.create(
        project=project, kind="hygiene", status="queued", params={"first_id": first.pk, "last_id": first.pk, "count": 1}
    )
    widened, claimed, seen = threading.Event(), [], []

    def batch():
        try:
            with transaction.atomic():
                hygiene.after_prompts_added(project, [second.pk])
                widened.set()
                time.sleep(0.5)  # the rest of the batch's transaction; the worker must wait for it
                seen.append(("committed", time.monotonic()))
        finally:
            connections.close_all()

    def worker():
        try:
            widened.wait(5)
            claimed.append(jobs.claim(job.pk, "w@host:1"))
            seen.append(("claimed", time.monotonic()))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=batch), threading.Thread(target=worker)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert [name for name, _ in sorted(seen, key=lambda s: s[1])] == ["committed", "claimed"]
    assert claimed[0].params == {"first_id": first.pk, "last_id": second.pk, "count": 2}
    assert Job.objects.filter(project=project, kind="hygiene").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_batch_arriving_while_a_worker_claims_the_job_gets_a_job_of_its_own(project, eager):
    """The worker locked the queued job first: the batch waits, sees it running, and queues another
    (widening it would change the params of a job that has already read them)."""
    require_service("DATABASE_URL")
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL")
    first, second = PromptFactory(project=project, text=OTHER), PromptFactory(project=project, text=PII)
    job = Job.objects.create(
        project=project, kind="hygiene", status="queued", params={"first_id": first.pk, "last_id": first.pk, "count": 1}
    )
    locked = threading.Event()

    def worker():  # what jobs.claim does, held open a moment
        try:
            with transaction.atomic():
                Job.objects.select_for_update().get(pk=job.pk)
                Job.objects.filter(pk=job.pk).update(status="running")
                locked.set()
                time.sleep(0.5)
        finally:
            connections.close_all()

    def batch():
        try:
            locked.wait(5)
            hygiene.after_prompts_added(project, [second.pk])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker), threading.Thread(target=batch)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    job.refresh_from_db()
    assert job.params == {"first_id": first.pk, "last_id": first.pk, "count": 1}
    (other,) = Job.objects.filter(project=project, kind="hygiene").exclude(pk=job.pk)
    assert other.params == {"first_id": second.pk, "last_id": second.pk, "count": 1}
    assert other.status == "succeeded" and Prompt.objects.get(pk=second.pk).has_pii
