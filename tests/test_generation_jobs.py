"""Teacher generation jobs end to end through ``jobs.run``, with the tiny model built in the tests."""

import math
from collections import Counter

import pytest
from django.utils import timezone

from curation.models import Example, Job, TeacherSample
from curation.services import job_context, jobs
from curation.services.review import decisions as review
from curation.services.teacher import SampleWriter, launch_generation, retry, run_generation
from tests.factories import ProjectFactory, UserFactory
from tests.genkit import (  # noqa: F401 - artifacts and tiny are fixtures
    TICKETS,
    add_prompts,
    artifacts,
    assert_soft_targets_match,
    forward_logprobs,
    teacher_spec,
    tiny,
)
from workers.difficulty import assign_tiers, generation_difficulty
from workers.softtargets import read_soft_targets

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("artifacts")]


@pytest.fixture
def engineer(db):
    return UserFactory(username="eng")


def launch(project, spec, engineer, **params):
    prompt_filter = params.pop("prompt_filter", None)
    return launch_generation(project, by=engineer, model_spec=spec.pk, params=params, prompt_filter=prompt_filter)


def samples_per_prompt(job):
    return Counter(TeacherSample.objects.filter(job=job).values_list("prompt_id", flat=True))


def assert_exactly_n_per_prompt(job, prompts, n):
    rows = list(TeacherSample.objects.filter(job=job).values_list("prompt_id", "sample_index"))
    assert len(rows) == len(set(rows)), "a sample was written twice"
    assert sorted(rows) == sorted((p.id, i) for p in prompts for i in range(n))
    examples = Counter(Example.objects.filter(sample__job=job).values_list("prompt_id", flat=True))
    assert examples == {p.id: n for p in prompts}


def test_a_generation_job_fills_the_pool_with_examples_carrying_statistics_and_soft_targets(
    project, tiny_model_dir, tiny, engineer, artifacts
):
    prompts = add_prompts(project, TICKETS[:5])
    spec = teacher_spec(project, tiny_model_dir)
    job = launch(project, spec, engineer, n=3, max_new_tokens=8, seed=1, top_k=5)

    assert jobs.run(job.id, run_generation) == "succeeded"

    job.refresh_from_db()
    assert (job.progress_done, job.progress_total) == (15, 15) and job.tokens_per_s > 0 and job.eta_s == 0
    assert job.metrics["samples_written"] == 15 and "Wrote 15 samples for 5 prompts (3 per prompt)" in job.message
    assert_exactly_n_per_prompt(job, prompts, 3)
    model, tokenizer = tiny
    for ex in Example.objects.filter(sample__job=job).select_related("sample", "prompt", "stage"):
        sample = ex.sample
        assert ex.status == "pending" and ex.stage.is_pool and ex.source == ex.prompt.source
        assert ex.response_text == ex.teacher_response == sample.text and ex.soft_targets == sample.soft_targets
        # The text is held once, in the sample, until someone edits.
        assert ex.response == ex.original_response == "" and not ex.edited
        assert (ex.mean_logprob, ex.mean_entropy, ex.min_margin, ex.token_count) == (
            sample.mean_logprob,
            sample.mean_entropy,
            sample.min_margin,
            sample.token_count,
        )
        assert 1 <= ex.token_count <= 8 and sample.finish_reason in ("eos", "length")
        assert ex.difficulty is not None and 0 <= ex.difficulty <= 1 and ex.tier is not None and not ex.tier_locked
        st = read_soft_targets(artifacts, ex.soft_targets)
        assert st.k == 5 and len(st) == ex.token_count
        assert_soft_targets_match(st, forward_logprobs(model, tokenizer, ex.prompt.text, st.token_ids))
    rows = list(
        Example.objects.filter(sample__job=job)
        .order_by("id")
        .values_list("difficulty", "prompt_id", "sample__mean_entropy", "sample__text", "tier__name")
    )
    expected = generation_difficulty([r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows])
    assert [r[0] for r in rows] == pytest.approx(expected)
    # Equal-sized tiers by default: cut at the 1/3 and 2/3 quantiles of the job's scores.
    assert [r[4] for r in rows] == assign_tiers(expected, [1 / 3, 2 / 3], ["easy", "medium", "hard"])
    assert Counter(r[4] for r in rows) == {"easy": 5, "medium": 5, "hard": 5}


def test_failed_checks_flag_examples_and_never_delete_them(project, tiny_model_dir, engineer):
    project.checks = [{"type": "non_empty"}, {"type": "max_length", "chars": 5}]
    project.save()
    add_prompts(project, TICKETS[:3])
    job = launch(
        project, teacher_spec(project, tiny_model_dir), engineer, n=2, max_new_tokens=6, min_new_tokens=6, seed=2
    )

    assert jobs.run(job.id, run_generation) == "succeeded"

    examples = list(Example.objects.filter(sample__job=job).select_related("sample"))
    assert len(examples) == 6
    for ex in examples:
        too_long = len(ex.response_text) > 5
        assert ex.checks_failed == too_long and ex.failed_checks == (["max_length"] if too_long else [])
        assert [r["name"] for r in ex.sample.check_results] == ["non_empty", "max_length"]
        assert ex.sample.checks_passed == (not too_long)
    assert any(ex.checks_failed for ex in examples)
    job.refresh_from_db()
    assert job.metrics["failed_checks"] == sum(ex.checks_failed for ex in examples)


def test_a_cancelled_job_keeps_what_it_wrote_and_a_retry_completes_it_keeping_human_tiers(
    project, tiny_model_dir, engineer, monkeypatch
):
    prompts = add_prompts(project, TICKETS)
    job = launch(
        project,
        teacher_spec(project, tiny_model_dir, options={"max_batch_size": 2}),
        engineer,
        n=2,
        max_new_tokens=4,
        seed=3,
    )
    monkeypatch.setattr(job_context, "PROGRESS_EVERY_S", 0.0)
    real_write = SampleWriter.write_generations
    batches = []

    def write_then_cancel(self, results):
        out = real_write(self, results)
        batches.append(len(results))
        if len(batches) == 2:
            jobs.request_cancel(Job.objects.get(pk=job.pk))
        return out

    monkeypatch.setattr(SampleWriter, "write_generations", write_then_cancel)
    assert jobs.run(job.id, run_generation) == "cancelled"
    job.refresh_from_db()
    assert job.message.startswith("Cancelled.") and job.finished_at
    written = TeacherSample.objects.filter(job=job).count()
    assert written == sum(batches) == 4  # two batches of two, then it stopped

    reviewer = UserFactory(username="rev")
    locked = Example.objects.filter(sample__job=job).first()
    wanted = project.tiers.exclude(pk=locked.tier_id).last()
    review.set_tier(locked, reviewer, locked.version, wanted)

    monkeypatch.setattr(SampleWriter, "write_generations", real_write)
    retry(job)
    job.refresh_from_db()
    assert job.status == "queued" and not job.cancel_requested
    assert jobs.run(job.id, run_generation) == "succeeded"

    assert_exactly_n_per_prompt(job, prompts, 2)
    locked.refresh_from_db()
    assert locked.tier == wanted and locked.tier_locked
    job.refresh_from_db()
    assert job.metrics["kept_human_tiers"] == 1 and "1 tier set by reviewers kept" in job.message
    assert Example.objects.filter(sample__job=job, tier__isnull=True).count() == 0


def test_a_job_whose_worker_died_midway_resumes_with_only_the_missing_samples(
    project, tiny_model_dir, engineer, monkeypatch, settings
):
    prompts = add_prompts(project, TICKETS[:6])
    job = launch(
        project,
        teacher_spec(project, tiny_model_dir, options={"max_batch_size": 2}),
        engineer,
        n=2,
        max_new_tokens=4,
        seed=4,
    )
    real_write = SampleWriter.write_generations
    calls = []

    def die_after_two_batches(self, results):
        if len(calls) == 2:
            raise KeyboardInterrupt  # like SIGKILL: nothing after this point runs
        calls.append(1)
        return real_write(self, results)

    monkeypatch.setattr(SampleWriter, "write_generations", die_after_two_batches)
    with pytest.raises(KeyboardInterrupt):
        jobs.run(job.id, run_generation)
    job.refresh_from_db()
    assert job.status == "running" and TeacherSample.objects.filter(job=job).count() == 4
    first_texts = dict(TeacherSample.objects.filter(job=job).values_list("id", "text"))

    monkeypatch.setattr(SampleWriter, "write_generations", real_write)
    Job.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - timezone.timedelta(seconds=settings.JOB_STALE_AFTER_S + 1)
    )
    assert jobs.run(job.id, run_generation) == "succeeded"

    assert_exactly_n_per_prompt(job, prompts, 2)
    assert dict(TeacherSample.objects.filter(id__in=first_texts).values_list("id", "text")) == first_texts
    job.refresh_from_db()
    assert job.attempts == 2 and job.progress_done == job.progress_total == 12


def test_running_a_finished_job_again_writes_nothing_new(project, tiny_model_dir, engineer, settings):
    prompts = add_prompts(project, TICKETS[:3])
    job = launch(project, teacher_spec(project, tiny_model_dir), engineer, n=2, max_new_tokens=3)
    assert jobs.run(job.id, run_generation) == "succeeded"
    before = sorted(TeacherSample.objects.filter(job=job).values_list("id", flat=True))
    # The same message delivered again after the job finished: claim skips it.
    assert jobs.run(job.id, run_generation) == "skipped"
    # A worker that died after the last batch but before finishing: the body runs again.
    Job.objects.filter(pk=job.pk).update(status="running", heartbeat_at=timezone.now() - timezone.timedelta(days=1))
    assert jobs.run(job.id, run_generation) == "succeeded"
    assert sorted(TeacherSample.objects.filter(job=job).values_list("id", flat=True)) == before
    assert_exactly_n_per_prompt(job, prompts, 2)


def test_a_bad_model_path_fails_the_job_clearly_and_a_retry_after_the_fix_succeeds(
    project, tmp_path, tiny_model_dir, engineer
):
    prompts = add_prompts(project, TICKETS[:2])
    spec = teacher_spec(project, tmp_path / "no-such-model")
    job = launch(project, spec, engineer, max_new_tokens=2)
    assert jobs.run(job.id, run_generation) == "failed"
    job.refresh_from_db()
    assert job.message.startswith("Cannot start the teacher: teacher model path") and "does not exist" in job.message
    assert job.phase == "could not start the teacher" and not TeacherSample.objects.filter(job=job).exists()

    spec.path = str(tiny_model_dir)
    spec.save()
    retry(job)  # nothing was written yet, so the retry takes the corrected spec
    assert jobs.run(job.id, run_generation) == "succeeded"
    assert_exactly_n_per_prompt(job, prompts, 1)


def test_a_prompt_longer_than_the_context_is_recorded_and_the_others_are_generated(project, tiny_model_dir, engineer):
    ok = add_prompts(project, TICKETS[:3])
    [long] = add_prompts(project, ["refund " * 400])
    job = launch(project, teacher_spec(project, tiny_model_dir), engineer, n=2, max_new_tokens=3)

    assert jobs.run(job.id, run_generation) == "succeeded"

    job.refresh_from_db()
    assert [e["item"] for e in job.errors] == [f"prompt {long.id}"]
    assert "exceeds the model's context of 256 tokens (2 samples)" in job.errors[0]["error"]
    assert samples_per_prompt(job) == {**{p.id: 2 for p in ok}, long.id: 2}
    assert TeacherSample.objects.filter(job=job, prompt=long).exclude(error="").count() == 2
    assert not Example.objects.filter(prompt=long).exists()
    assert Example.objects.filter(sample__job=job).count() == 6
    assert "Wrote 6 of 8 samples for 4 prompts (2 per prompt). 2 failed (listed under problems)." in job.message


def test_a_classification_job_labels_each_example_with_the_teachers_distribution(tiny_model_dir, engineer):
    project = ProjectFactory(task_type="classification", labels=["billing", "account", "technical"])
    prompts = add_prompts(project, TICKETS[:4])
    job = launch(project, teacher_spec(project, tiny_model_dir), engineer)
    assert job.params["generation"]["n"] == 1 and job.params["labels"] == ["billing", "account", "technical"]

    assert jobs.run(job.id, run_generation) == "succeeded"

    examples = list(Example.objects.filter(sample__job=job).select_related("sample"))
    assert sorted(ex.prompt_id for ex in examples) == sorted(p.id for p in prompts)
    for ex in examples:
        dist = ex.sample.label_distribution
        assert set(dist) == {"billing", "account", "technical"} and sum(dist.values()) == pytest.approx(1.0)
        assert ex.label == ex.sample.predicted_label == max(dist, key=dist.get) and ex.response == ""
        ranked = sorted(dist.values(), reverse=True)
        assert ex.min_margin == pytest.approx(ranked[0] - ranked[1]) == ex.sample.label_margin
        assert ex.mean_logprob == pytest.approx(math.log(dist[ex.label]))
        assert ex.mean_entropy == pytest.approx(-sum(p * math.log(p) for p in dist.values()))
        assert ex.difficulty is not None and ex.tier is not None and not ex.soft_targets
    job.refresh_from_db()
    assert "Wrote 4 label distributions for 4 prompts." in job.message


def test_only_missing_answers_prompts_this_teacher_has_not_answered(project, tiny_model_dir, engineer):
    first = add_prompts(project, TICKETS[:2])
    spec = teacher_spec(project, tiny_model_dir)
    done = launch(project, spec, engineer, n=1, max_new_tokens=2)
    assert jobs.run(done.id, run_generation) == "succeeded"
    later = add_prompts(project, TICKETS[2:4])

    job = launch(project, spec, engineer, n=2, max_new_tokens=2, prompt_filter={"scope": "missing"})
    assert job.params["frozen"]["count"] == 2
    assert jobs.run(job.id, run_generation) == "succeeded"
    assert samples_per_prompt(job) == {p.id: 2 for p in later}
    assert not TeacherSample.objects.filter(job=job, prompt__in=first).exists()


def handmade_result(prompt_id, index, text):
    """A generation result as the engine returns it, with small real arrays."""
    import numpy as np

    from workers.softtargets import SoftTargets
    from workers.teacher import GenerationResult

    st = SoftTargets(
        token_ids=np.array([5, 6]),
        topk_ids=np.array([[5, 1], [6, 2]]),
        topk_logprobs=np.array([[-0.1, -2.5], [-0.2, -2.0]]),
        tail_logprob=np.array([-3.0, -3.0]),
        token_logprob=np.array([-0.1, -0.2]),
    )
    return GenerationResult(
        key=(prompt_id, index),
        text=text,
        finish_reason="length",
        soft_targets=st,
        stats={"mean_logprob": -0.15, "mean_entropy": 0.5, "min_margin": 1.8, "token_count": 2},
    )


def test_a_nul_character_from_the_model_is_stored_as_a_replacement_character(project, engineer, tiny_model_dir):
    [prompt] = add_prompts(project, TICKETS[:1])
    job = launch(project, teacher_spec(project, tiny_model_dir), engineer, max_new_tokens=2)
    SampleWriter(job, project, [], {prompt.id: prompt}).write_generations([handmade_result(prompt.id, 0, "a\x00b")])
    example = Example.objects.get(sample__job=job)
    assert example.response_text == example.sample.text == "a\ufffdb"


def test_a_batch_racing_another_delivery_keeps_the_rows_already_there_and_adds_the_rest(
    project, engineer, tiny_model_dir
):
    [prompt] = add_prompts(project, TICKETS[:1])
    job = launch(project, teacher_spec(project, tiny_model_dir), engineer, n=2, max_new_tokens=2)
    writer = SampleWriter(job, project, [], {prompt.id: prompt})
    writer.write_generations([handmade_result(prompt.id, 0, "first delivery")])

    writer.write_generations([handmade_result(prompt.id, 0, "second delivery"), handmade_result(prompt.id, 1, "new")])

    rows = dict(TeacherSample.objects.filter(job=job).values_list("sample_index", "text"))
    assert rows == {0: "first delivery", 1: "new"}
    shown = Example.objects.filter(sample__job=job).annotate(shown=Example.response_text_sql())
    assert sorted(shown.values_list("shown", flat=True)) == ["first delivery", "new"]


def test_progress_moves_while_the_first_batch_decodes(project, tiny_model_dir, engineer, monkeypatch):
    from workers.teacher import decode

    monkeypatch.setattr(decode, "DECODE_PROGRESS_EVERY_S", 0.0)  # the tiny model decodes a batch in milliseconds
    reports = []
    original = job_context.JobContext.progress

    def spy(self, done=None, total=None, **kw):
        if done is not None and kw.get("phase") == "generating":
            reports.append((done, total, kw.get("tokens_per_s")))
        return original(self, done, total, **kw)

    monkeypatch.setattr(job_context.JobContext, "progress", spy)
    add_prompts(project, TICKETS[:4])
    spec = teacher_spec(project, tiny_model_dir, options={"max_batch_size": 8})  # one batch for all 8 samples
    job = launch(project, spec, engineer, n=2, max_new_tokens=24, min_new_tokens=24, seed=1)
    assert jobs.run(job.id, run_generation) == "succeeded"
    within = [done for done, total, _ in reports if 0 < done < total]
    assert within, f"the bar only jumped: {reports}"
    assert within == sorted(within)  # it never moves back
    assert reports[-1][0] == reports[-1][1] == 8
    assert all(tps is not None and tps > 0 for done, _, tps in reports if done)
