"""The Generate and Score launch pages, the Models page and the generation job panel."""

import pytest
from django.urls import reverse

from curation.models import Job, ModelSpec, TeacherSample
from curation.services import jobs
from curation.services.teacher import run_generation
from tests.factories import ExampleFactory, JobFactory, ProjectFactory, UserFactory
from tests.genkit import TICKETS, add_prompts, teacher_spec


@pytest.fixture
def spec(project, tmp_path):
    return teacher_spec(project, tmp_path / "teacher", defaults={"n": 4, "temperature": 0.8})


def page(client, name, project, *args, **params):
    response = client.get(reverse(name, args=[project.slug, *args]), params)
    return response, response.content.decode()


def test_the_launch_page_starts_from_the_specs_defaults_and_counts_matching_prompts(project, spec, client_as):
    add_prompts(project, TICKETS[:5])
    response, html = page(client_as("engineer"), "gen-launch", project)
    assert response.status_code == 200
    assert (
        'name="n" value="4"' in html and 'name="temperature" value="0.8"' in html and 'name="top_k" value="20"' in html
    )
    assert '<b class="big-number">5</b> prompts match: <b>20</b> samples at n = 4.' in " ".join(html.split())


def test_the_count_fragment_follows_the_filter(project, spec, client_as):
    add_prompts(project, TICKETS[:3], metadata={"lang": "en", "urgent": True})
    add_prompts(project, TICKETS[3:5], metadata={"lang": "de"})
    client = client_as("engineer")
    _, html = page(
        client, "gen-prompt-count", project, model_spec=spec.pk, metadata_key="lang", metadata_value="de", n=2
    )
    assert '<b class="big-number">2</b> prompts match: <b>4</b> samples at n = 2.' in " ".join(html.split())
    _, html = page(client, "gen-prompt-count", project, metadata_key="urgent", metadata_value="true")
    assert '<b class="big-number">3</b> prompts match' in html
    _, html = page(client, "gen-prompt-count", project, limit="abc")
    assert "limit: must be a whole number" in html


def test_an_invalid_launch_is_shown_again_with_the_fields_named(project, spec, client_as):
    add_prompts(project, TICKETS[:2])
    client = client_as("engineer")
    response = client.post(
        reverse("gen-launch", args=[project.slug]),
        {
            "model_spec": spec.pk,
            "n": 2,
            "top_p": 1.5,
            "ids": "1-3, 999999",
            "scope": "all",
            "stop": "###",
        },
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "must be between 0.0 and 1.0, got 1.5" in html and "not prompts of this project" in html
    assert 'value="1-3, 999999"' in html and not Job.objects.exists()


def test_a_valid_launch_queues_the_job_and_opens_its_page(project, spec, client_as):
    prompts = add_prompts(project, TICKETS[:3])
    response = client_as("engineer").post(
        reverse("gen-launch", args=[project.slug]),
        {
            "model_spec": spec.pk,
            "n": 2,
            "temperature": 0.5,
            "max_new_tokens": 16,
            "stop": "\\n\\n\nEND",
            "scope": "all",
            "ids": f"{prompts[0].id}, {prompts[2].id}",
        },
    )
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("job-detail", args=[project.slug, job.pk])
    assert job.kind == "generate" and job.created_by.username == f"engineer-{project.slug}"
    assert job.params["generation"]["stop"] == ["\n\n", "END"] and job.params["generation"]["n"] == 2
    assert job.params["prompt_filter"]["ids"] == [prompts[0].id, prompts[2].id] and job.params["frozen"]["count"] == 2


def test_a_classification_project_launches_without_sampling_settings(db, tmp_path, client):
    project = ProjectFactory(task_type="classification", labels=["billing", "account"])
    user = UserFactory(username="cls-engineer")
    project.memberships.create(user=user, role="engineer")
    client.force_login(user)
    spec = teacher_spec(project, tmp_path)
    add_prompts(project, TICKETS[:2])
    _, html = page(client, "gen-launch", project)
    assert 'name="temperature"' not in html and "one label distribution per prompt" in html
    client.post(reverse("gen-launch", args=[project.slug]), {"model_spec": spec.pk, "scope": "all"})
    assert Job.objects.get().params["task"] == "classification"


def test_without_a_teacher_the_page_sends_engineers_to_the_models_page(project, client_as):
    _, html = page(client_as("engineer"), "gen-launch", project)
    assert "First register a teacher" in html and reverse("modelspec-list", args=[project.slug]) in html


def test_the_score_page_counts_what_needs_scoring_and_launches(project, spec, client_as):
    ExampleFactory(prompt__project=project, response="A human answer", soft_targets="")
    client = client_as("engineer")
    _, html = page(client, "score-launch", project)
    assert "<b>1</b> example whose response a reviewer edited or wrote" in html
    response = client.post(
        reverse("score-launch", args=[project.slug]), {"model_spec": spec.pk, "targets": ["edits"], "top_k": 8}
    )
    job = Job.objects.get()
    assert response.status_code == 302 and job.kind == "score" and job.params["top_k"] == 8


def test_the_score_page_launches_sampled_soft_targets_and_the_job_page_says_so(project, spec, client_as):
    ExampleFactory(prompt__project=project, response="A human answer", soft_targets="")
    client = client_as("engineer")
    form = {"model_spec": spec.pk, "targets": ["edits"], "top_k": 8, "soft_targets": "sampled", "draws": 16}
    response = client.post(reverse("score-launch", args=[project.slug]), form)
    job = Job.objects.get()
    assert response.status_code == 302 and (job.params["soft_targets"], job.params["draws"]) == ("sampled", 16)
    html = client.get(reverse("job-detail", args=[project.slug, job.pk])).content.decode()
    assert "sampled (RS-KD): 16 draws per token" in html


def test_the_generate_page_refuses_sampled_targets_from_a_server_on_the_field(project, client_as):
    add_prompts(project, TICKETS[:2])
    server = ModelSpec.objects.create(
        project=project, name="vllm", backend="openai", base_url="http://vllm:8000/v1", role="teacher"
    )
    client = client_as("engineer")
    response = client.post(
        reverse("gen-launch", args=[project.slug]), {"model_spec": server.pk, "scope": "all", "soft_targets": "sampled"}
    )
    assert response.status_code == 400 and not Job.objects.exists()
    assert "returns only its top log-probabilities" in response.content.decode()


def test_the_models_page_registers_a_server_spec_by_key_variable_never_the_key(project, client_as):
    client = client_as("engineer")
    url = reverse("modelspec-list", args=[project.slug])
    bad = client.post(
        url,
        {
            "name": "vllm",
            "role": "teacher",
            "backend": "openai",
            "path": "big-model",
            "base_url": "http://vllm:8000/v1",
            "api_key_env": "sk-abc123",
            "defaults": '{"n": 0}',
            "options": '{"endpoint": "smoke"}',
        },
    )
    html = bad.content.decode()
    assert bad.status_code == 400
    assert "NAME of an environment variable" in html and "n: must be between 1 and 64" in html
    assert "endpoint must be one of completions, chat" in html and not ModelSpec.objects.exists()
    good = client.post(
        url,
        {
            "name": "vllm",
            "role": "teacher",
            "backend": "openai",
            "path": "big-model",
            "base_url": "http://vllm:8000/v1",
            "api_key_env": "VLLM_API_KEY",
            "defaults": '{"n": 4}',
            "options": '{"endpoint": "chat"}',
        },
    )
    assert good.status_code == 302
    spec = ModelSpec.objects.get()
    assert (spec.api_key_env, spec.defaults, spec.options) == ("VLLM_API_KEY", {"n": 4}, {"endpoint": "chat"})
    again = client.post(
        url,
        {
            "name": "vllm",
            "role": "teacher",
            "backend": "transformers",
            "path": "/models/x",
            "defaults": "{}",
            "options": "{}",
        },
    )
    assert "already has a model spec named" in again.content.decode()


def test_editing_a_spec_keeps_it_in_its_project(project, spec, client_as):
    client = client_as("engineer")
    response = client.post(
        reverse("modelspec-edit", args=[project.slug, spec.pk]),
        {
            "name": "renamed",
            "role": "teacher",
            "backend": "transformers",
            "path": "/models/other",
            "defaults": "{}",
            "options": '{"max_batch_size": 16}',
        },
    )
    assert response.status_code == 302
    spec.refresh_from_db()
    assert (spec.name, spec.path, spec.options, spec.project_id) == (
        "renamed",
        "/models/other",
        {"max_batch_size": 16},
        project.pk,
    )
    other = teacher_spec(ProjectFactory(), "/x")
    assert client.get(reverse("modelspec-edit", args=[project.slug, other.pk])).status_code == 404


@pytest.mark.slow
def test_the_check_button_reads_the_model_or_says_what_is_wrong(project, tiny_model_dir, tmp_path, client_as):
    good = teacher_spec(project, tiny_model_dir)
    missing = teacher_spec(project, tmp_path / "gone", name="gone")
    client = client_as("engineer")
    html = client.post(
        reverse("modelspec-check", args=[project.slug, good.pk]), {"fragment": "check"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "config and tokenizer of" in html and "model type gpt2" in html and "context 256 tokens" in html
    html = client.post(
        reverse("modelspec-check", args=[project.slug, missing.pk]), {"fragment": "check"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "does not exist on this machine" in html and "✗" in html


def test_the_check_button_reports_an_unreachable_server(project, client_as):
    spec = ModelSpec.objects.create(
        project=project,
        name="down",
        backend="openai",
        path="m",
        base_url="http://127.0.0.1:9/v1",
        api_key_env="NOT_SET_ANYWHERE_KEY",
    )
    html = (
        client_as("engineer")
        .post(reverse("modelspec-check", args=[project.slug, spec.pk]), {"fragment": "check"}, HTTP_HX_REQUEST="true")
        .content.decode()
    )
    assert "cannot reach the teacher server at http://127.0.0.1:9/v1" in html
    assert "NOT_SET_ANYWHERE_KEY is not set on the web server" in html


@pytest.mark.slow
def test_the_job_page_shows_the_generation_panel_and_escapes_untrusted_text(
    project, tiny_model_dir, client_as, settings, tmp_path
):
    settings.ARTIFACT_DIR = tmp_path
    [evil] = add_prompts(project, ["<script>alert('prompt')</script> my invoice"], metadata={"lang": "<b>x</b>"})
    from curation.services.teacher import launch_generation

    spec = teacher_spec(project, tiny_model_dir, name="<script>alert('spec')</script>")
    job = launch_generation(
        project,
        by=UserFactory(),
        model_spec=spec.pk,
        params={"n": 2, "max_new_tokens": 3},
        prompt_filter={"metadata_key": "lang", "metadata_value": "<b>x</b>"},
    )
    assert jobs.run(job.id, run_generation) == "succeeded"
    Job.objects.filter(pk=job.pk).update(
        errors=[{"item": f"prompt {evil.pk}", "error": "<script>alert('err')</script>"}]
    )
    _, html = page(client_as("reader"), "job-detail", project, job.pk)
    assert "samples written" in html and "Review the answers" not in html  # readers watch, they do not review
    client = client_as("reviewer")
    response, html = page(client, "job-detail", project, job.pk)
    assert response.status_code == 200
    assert "<script>alert(" not in html
    assert "&lt;script&gt;alert(&#x27;spec&#x27;)&lt;/script&gt;" in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert "&lt;script&gt;alert(&#x27;err&#x27;)&lt;/script&gt;" in html
    assert f'href="/p/{project.slug}/review/?status=pending">Review the answers' in html and "samples written" in html
    assert ">2</b><span>samples written" in html and "Retry" not in html
    engineer = client_as("engineer")
    for name in ("modelspec-list", "gen-launch", "score-launch"):
        _, html = page(engineer, name, project)
        assert "<script>alert(" not in html and "&lt;script&gt;alert(&#x27;spec&#x27;)&lt;/script&gt;" in html, name


def test_a_failed_generation_job_can_be_retried_by_an_engineer(project, client_as, monkeypatch):
    enqueued = []
    monkeypatch.setattr(jobs, "enqueue", enqueued.append)
    job = JobFactory(
        project=project,
        status="failed",
        message="The teacher stopped: cannot reach the server",
        params={
            "teacher": {"name": "t", "backend": "openai"},
            "generation": {"n": 1},
            "prompt_filter": {},
            "frozen": {"count": 1},
        },
    )
    client = client_as("engineer")
    _, html = page(client, "job-detail", project, job.pk)
    assert reverse("job-retry", args=[project.slug, job.pk]) in html
    response = client.post(reverse("job-retry", args=[project.slug, job.pk]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == "queued" and job.message == "" and job.phase.startswith("resuming")
    assert TeacherSample.objects.count() == 0


def test_a_spec_takes_prices_for_routing_and_refuses_bad_ones(project, spec, client_as):
    client = client_as("engineer")
    url = reverse("modelspec-edit", args=[project.slug, spec.pk])
    fields = {"name": spec.name, "role": "teacher", "backend": "transformers", "path": spec.path, "defaults": "{}"}
    bad = client.post(url, {**fields, "pricing": '{"per_hour": -2, "per_month": 1}'})
    assert bad.status_code == 400
    page = bad.content.decode()
    assert "per_hour: from 0 up" in page and "unknown key &#x27;per_month&#x27;" in page
    spec.refresh_from_db()
    assert spec.pricing == {}
    assert client.post(url, {**fields, "pricing": '{"per_1k_input": 0.5, "per_1k_output": 1.5}'}).status_code == 302
    spec.refresh_from_db()
    assert spec.pricing == {"per_1k_input": 0.5, "per_1k_output": 1.5}
