"""Score jobs: teacher-forced soft targets for human edits and gold references."""

import pytest
from django.utils import timezone

from curation.models import Example, GoldItem, Job, TeacherSample
from curation.services import jobs
from curation.services.errors import Invalid
from curation.services.review import decisions as review
from curation.services.teacher import (
    ScoreWriter,
    launch_generation,
    launch_scoring,
    run_generation,
    run_scoring,
)
from tests.factories import ExampleFactory, ProjectFactory, UserFactory
from tests.genkit import (  # noqa: F401 - artifacts and tiny are fixtures
    TICKETS,
    add_prompts,
    artifacts,
    assert_soft_targets_match,
    forward_logprobs,
    teacher_spec,
    tiny,
)
from workers.softtargets import read_soft_targets

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("artifacts")]


@pytest.fixture
def user(db):
    return UserFactory(username="scorer")


@pytest.fixture
def generated(project, tiny_model_dir, user):
    """A project whose teacher answered three prompts once each."""
    add_prompts(project, TICKETS[:3])
    spec = teacher_spec(project, tiny_model_dir)
    job = launch_generation(project, by=user, model_spec=spec.pk, params={"n": 1, "max_new_tokens": 4})
    assert jobs.run(job.id, run_generation) == "succeeded"
    return spec, list(Example.objects.filter(sample__job=job).order_by("id"))


def score(project, spec, user, **params):
    job = launch_scoring(project, by=user, model_spec=spec.pk, params=params)
    status = jobs.run(job.id, run_scoring)
    job.refresh_from_db()
    return status, job


def test_scoring_an_edit_points_the_example_at_soft_targets_of_the_edited_text(
    project, generated, user, tiny, artifacts
):
    spec, examples = generated
    edited = review.edit(examples[0], user, examples[0].version, " Category: billing, refund the charge")
    assert edited.soft_targets == ""
    written = ExampleFactory(prompt=examples[1].prompt, response=" Hi! How can I help", sample=None)

    status, job = score(project, spec, user, targets=["edits"], top_k=6)

    assert status == "succeeded", job.message
    assert "Scored 2 texts (2 edits, 0 gold references)." in job.message
    model, tokenizer = tiny
    for ex in (edited, written):
        ex.refresh_from_db()
        sample = TeacherSample.objects.get(job=job, sample_index=ex.id)
        assert sample.scored and sample.text == ex.response and ex.soft_targets == sample.soft_targets
        st = read_soft_targets(artifacts, ex.soft_targets)
        # the edited text's tokens, then the EOS position: the student learns to stop there
        text_ids = tokenizer(ex.response, add_special_tokens=False)["input_ids"]
        assert st.token_ids.tolist() == text_ids + [tokenizer.eos_token_id] and st.k == 6
        assert_soft_targets_match(st, forward_logprobs(model, tokenizer, ex.prompt.text, st.token_ids))
        assert (ex.token_count, ex.mean_logprob) == (len(st), sample.mean_logprob)
    untouched = Example.objects.get(pk=examples[2].pk)
    assert untouched.soft_targets == examples[2].soft_targets  # the teacher's own answer keeps its pointer


def test_an_example_edited_again_while_scoring_keeps_a_blank_pointer_for_the_next_job(
    project, generated, user, monkeypatch
):
    spec, examples = generated
    ex = review.edit(examples[0], user, examples[0].version, " first edit")
    real_write = ScoreWriter.write

    def edit_meanwhile(self, results, targets):
        current = Example.objects.get(pk=ex.pk)
        review.edit(current, user, current.version, " second edit")
        return real_write(self, results, targets)

    monkeypatch.setattr(ScoreWriter, "write", edit_meanwhile)
    status, job = score(project, spec, user, targets=["edits"])
    assert status == "succeeded" and "1 edited again while scoring: left for the next score job" in job.message
    ex.refresh_from_db()
    assert ex.response == " second edit" and ex.soft_targets == ""

    monkeypatch.setattr(ScoreWriter, "write", real_write)
    status, again = score(project, spec, user, targets=["edits"])
    ex.refresh_from_db()
    assert status == "succeeded" and ex.soft_targets
    assert TeacherSample.objects.get(job=again, sample_index=ex.id).text == " second edit"


def test_gold_references_are_scored_once_per_teacher(project, generated, user):
    spec, examples = generated
    gold = GoldItem.objects.create(
        project=project, prompt=examples[2].prompt, reference=" Category: technical", confirmed=True
    )
    GoldItem.objects.create(project=project, prompt=examples[1].prompt, reference=" not yet confirmed")

    status, job = score(project, spec, user, targets=["gold"])

    assert status == "succeeded"
    sample = TeacherSample.objects.get(job=job)
    assert (sample.prompt_id, sample.sample_index, sample.text, sample.scored) == (
        gold.prompt_id,
        0,
        gold.reference,
        True,
    )
    assert sample.soft_targets and sample.token_count > 0
    with pytest.raises(Invalid) as info:
        launch_scoring(project, by=user, model_spec=spec.pk, params={"targets": ["gold"]})
    assert "nothing to score" in info.value.errors["params"]["targets"][0]


def test_a_resumed_score_job_scores_only_what_is_missing(project, generated, user, settings):
    spec, examples = generated
    for ex in examples:
        review.edit(ex, user, ex.version, ex.response + " (edited)")
    status, job = score(project, spec, user, targets=["edits"])
    assert status == "succeeded"
    rows = sorted(TeacherSample.objects.filter(job=job).values_list("id", flat=True))
    assert len(rows) == 3
    Job.objects.filter(pk=job.pk).update(status="running", heartbeat_at=timezone.now() - timezone.timedelta(days=1))
    assert jobs.run(job.id, run_scoring) == "succeeded"
    assert sorted(TeacherSample.objects.filter(job=job).values_list("id", flat=True)) == rows


def test_scoring_is_refused_for_classification_projects_and_bad_settings(tiny_model_dir, user):
    project = ProjectFactory(task_type="classification", labels=["a", "b"])
    spec = teacher_spec(project, tiny_model_dir)
    with pytest.raises(Invalid) as info:
        launch_scoring(project, by=user, model_spec=spec.pk, params={"targets": ["everything"], "top_k": 0})
    errors = info.value.errors
    assert "label distribution" in errors["project"][0]
    assert set(errors["params"]) == {"targets", "top_k"}
