"""Evaluation jobs: the EvalReport holds the numbers a hand computation gives on small cases."""

import math
import shutil

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from curation.models import EvalReport, GoldItem, Job, ModelVersion
from curation.services import jobs, webhooks
from curation.services.errors import Invalid
from curation.services.training import launch_evaluation, run_evaluation_job
from tests import distillkit as kit
from tests.distillkit import artifacts  # noqa: F401  (fixtures)
from workers.evaluation import normalize_text
from workers.prompting import render_prompt

pytestmark = pytest.mark.slow


@pytest.fixture
def version(project, artifacts, tiny_student_dir, tiny_model_dir):
    teacher = kit.spec(project, "teacher", tiny_model_dir, name="teacher")
    shutil.copytree(tiny_student_dir, artifacts / "jobs" / "7" / "final")
    return ModelVersion.objects.create(
        project=project,
        name="student",
        is_final=True,
        teacher_spec=teacher,
        artifact_path=str(artifacts / "jobs" / "7" / "final"),
    )


def evaluate_job(project, version):
    job = launch_evaluation(project, {"model_version": version.pk})
    assert jobs.run(job.pk, run_evaluation_job) == "succeeded"
    job.refresh_from_db()
    return job, EvalReport.objects.get(job=job)


def load(path):
    return AutoModelForCausalLM.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)


def ids(tok, text):
    return tok(text, add_special_tokens=False).input_ids


def label_probs(path, prompt):
    model, tok = load(path)
    p = ids(tok, render_prompt(tok, prompt))
    scores = []
    for label in kit.LABELS:
        c = ids(tok, " " + label)
        with torch.no_grad():
            logp = torch.log_softmax(model(torch.tensor([p + c])).logits[0].float(), -1)
        scores.append(sum(logp[len(p) - 1 + j, t].item() for j, t in enumerate(c)))
    return torch.softmax(torch.tensor(scores), -1).tolist()


def hand_f1(preds, golds):
    scores = []
    for label in sorted(set(preds) | set(golds)):
        tp = sum(p == label == g for p, g in zip(preds, golds))
        fp = sum(p == label != g for p, g in zip(preds, golds))
        fn = sum(g == label != p for p, g in zip(preds, golds))
        scores.append(2 * tp / (2 * tp + fp + fn))
    return sum(scores) / len(scores)


def hand_ece(confidences, correct, n_bins=15):
    bins = {}
    for c, ok in zip(confidences, correct):
        bins.setdefault(min(max(math.ceil(c * n_bins) - 1, 0), n_bins - 1), []).append((c, ok))
    n = len(confidences)
    return sum(
        len(items) / n * abs(sum(ok for _, ok in items) / len(items) - sum(c for c, _ in items) / len(items))
        for items in bins.values()
    )


def test_a_classification_report_holds_hand_computed_accuracy_f1_ece_and_ratios(project, version, tiny_model_dir):
    project.task_type, project.labels = "classification", kit.LABELS
    project.save()
    kit.gold(project)  # two easy items, one hard
    job, report = evaluate_job(project, version)

    golds = [label for _, label, _ in kit.GOLD_TICKETS]
    tiers = [tier for _, _, tier in kit.GOLD_TICKETS]
    prompts = [kit.ticket_prompt(text) for text, _, _ in kit.GOLD_TICKETS]
    student = [label_probs(version.artifact_path, p) for p in prompts]
    teacher = [label_probs(str(tiny_model_dir), p) for p in prompts]
    s_pred = [kit.LABELS[max(range(3), key=probs.__getitem__)] for probs in student]
    t_pred = [kit.LABELS[max(range(3), key=probs.__getitem__)] for probs in teacher]
    s_ok = [p == g for p, g in zip(s_pred, golds)]
    t_acc = sum(p == g for p, g in zip(t_pred, golds)) / 3

    s = report.metrics["student"]
    assert report.metrics["n_items"] == 3 and report.metrics["quality_basis"] == "accuracy"
    assert s["accuracy"] == pytest.approx(sum(s_ok) / 3)
    assert s["macro_f1"] == pytest.approx(hand_f1(s_pred, golds))
    assert s["teacher_agreement"] == pytest.approx(sum(a == b for a, b in zip(s_pred, t_pred)) / 3)
    assert s["ece"] == pytest.approx(hand_ece([max(p) for p in student], s_ok), abs=1e-5)
    assert report.reliability["student"]["ece"] == s["ece"]
    assert sum(b["count"] for b in report.reliability["teacher"]["bins"]) == 3
    easy = [i for i, t in enumerate(tiers) if t == "easy"]
    assert report.by_tier["student"]["easy"]["accuracy"] == pytest.approx(sum(s_ok[i] for i in easy) / len(easy))
    assert report.by_tier["student"]["hard"]["n"] == 1
    assert report.metrics["teacher"]["accuracy"] == pytest.approx(t_acc)
    assert report.quality_retained == (pytest.approx(sum(s_ok) / 3 / t_acc) if t_acc else None)
    assert report.speedup == pytest.approx(
        report.speed["teacher"]["latency_p50_ms"] / report.speed["student"]["latency_p50_ms"]
    )
    assert job.metrics["eval_report"] == report.pk and f"Report #{report.pk}" in job.message
    # Each gold item's score, in gold order with its id, so two students can be compared item by item.
    gold_ids = list(GoldItem.objects.filter(project=project).order_by("id").values_list("id", flat=True))
    t_ok = [p == g for p, g in zip(t_pred, golds)]
    scores = {k: report.per_item[k] for k in ("gold_ids", "metric", "student", "teacher")}
    assert scores == {
        "gold_ids": gold_ids,
        "metric": "accuracy",
        "student": [float(ok) for ok in s_ok],
        "teacher": [float(ok) for ok in t_ok],
    }
    # What the routing simulation reads: the student's top label probability per gold item,
    # both latencies, the prompt tokens (label scoring generates none); no snapshot, no validation.
    assert report.per_item["student_confidence"] == pytest.approx([max(p) for p in student], abs=1e-6)
    assert len(report.per_item["teacher_latency_s"]) == 3 and min(report.per_item["student_latency_s"]) > 0
    assert report.per_item["student_output_tokens"] == [0, 0, 0]
    assert "validation" not in report.per_item


def test_a_generation_report_holds_hand_computed_perplexity_kl_agreement_and_matches(project, version, tiny_model_dir):
    project.checks = [{"type": "max_length", "chars": 12}]
    project.save()
    kit.gold(project, classification=False)  # references " billing", " account", " technical"
    _, report = evaluate_job(project, version)

    s_model, tok = load(version.artifact_path)
    t_model, _ = load(str(tiny_model_dir))
    nll = kl = agree = n = 0
    for text, label, _ in kit.GOLD_TICKETS:
        p, r = ids(tok, render_prompt(tok, kit.ticket_prompt(text))), ids(tok, " " + label)
        with torch.no_grad():
            s = torch.log_softmax(s_model(torch.tensor([p + r])).logits[0].float(), -1)[len(p) - 1 : -1]
            t = torch.log_softmax(t_model(torch.tensor([p + r])).logits[0].float(), -1)[len(p) - 1 : -1]
        nll -= sum(s[j, tok_id].item() for j, tok_id in enumerate(r))
        kl += (t.exp() * (t - s)).sum().item()
        agree += int((s.argmax(-1) == t.argmax(-1)).sum())
        n += len(r)
    overall = report.metrics["student"]
    assert overall["reference_perplexity"] == pytest.approx(math.exp(nll / n), rel=1e-4)
    assert overall["mean_kl_to_teacher"] == pytest.approx(kl / n, rel=1e-4)
    assert overall["teacher_agreement"] == pytest.approx(agree / n)

    outputs = [sample["student"] for sample in report.metrics["samples"]]
    teacher_outputs = [sample["teacher"] for sample in report.metrics["samples"]]
    references = [f" {label}" for _, label, _ in kit.GOLD_TICKETS]
    matches = [normalize_text(o) == normalize_text(r) for o, r in zip(outputs, references)]
    teacher_matches = [normalize_text(o) == normalize_text(r) for o, r in zip(teacher_outputs, references)]
    assert overall["normalized_match"] == pytest.approx(sum(matches) / 3)
    assert overall["exact_match"] == pytest.approx(sum(o.strip() == r.strip() for o, r in zip(outputs, references)) / 3)
    assert overall["check_pass_rate"] == pytest.approx(sum(len(o) <= 12 for o in outputs) / 3)
    assert report.per_item["metric"] == "normalized_match"
    assert report.per_item["student"] == [float(m) for m in matches]
    assert report.per_item["teacher"] == [float(m) for m in teacher_matches]
    # the student's confidence in its own answer: a mean log-probability of its tokens
    assert all(c <= 0 for c in report.per_item["student_confidence"])
    assert len(report.per_item["student_confidence"]) == len(matches)
    # Free text: sacrebleu's chrF and rouge-score's ROUGE-L per item, means with intervals.
    from rouge_score import rouge_scorer
    from sacrebleu.metrics import CHRF

    assert report.per_item["student_outputs"] == outputs and report.per_item["teacher_outputs"] == teacher_outputs
    gen = report.metrics["generation"]["overall"]
    chrfs = [CHRF().sentence_score(o, [r]).score for o, r in zip(outputs, references)]
    t_chrfs = [CHRF().sentence_score(o, [r]).score for o, r in zip(teacher_outputs, references)]
    rouge = rouge_scorer.RougeScorer(["rougeL"])
    rouges = [rouge.score(r, o)["rougeL"].fmeasure for o, r in zip(outputs, references)]
    assert gen["student"]["chrf"]["mean"] == pytest.approx(sum(chrfs) / 3)
    assert gen["student"]["chrf"]["n"] == 3
    low, high = gen["student"]["chrf"]["ci95"]
    assert low <= sum(chrfs) / 3 <= high
    assert gen["student"]["rouge_l"]["mean"] == pytest.approx(sum(rouges) / 3)
    assert gen["student"]["check_pass_rate"]["mean"] == pytest.approx(sum(len(o) <= 12 for o in outputs) / 3)
    assert gen["student"]["length"]["chars_mean"] == pytest.approx(sum(len(o) for o in outputs) / 3)
    if sum(t_chrfs):
        assert gen["chrf_retained"]["ratio"] == pytest.approx(sum(chrfs) / sum(t_chrfs))
    else:
        assert gen["chrf_retained"]["ratio"] is None
    assert set(report.metrics["generation"]["by_tier"]) == {t or "untiered" for *_, t in kit.GOLD_TICKETS}
    # The headline is the judged ratio (its own test below); the match-based one is kept beside it.
    match = report.metrics["match_basis"] if report.metrics["quality_basis"] == "judged" else report.metrics
    match_retained = match["quality_retained"] if "match_basis" in report.metrics else report.quality_retained
    if any(teacher_matches):
        assert match["quality_basis"] == "normalized_match"
        assert match_retained == pytest.approx(sum(matches) / sum(teacher_matches))
    else:  # the random tiny teacher matches nothing: the student's agreement with it stands in
        assert match["quality_basis"] == "teacher_agreement"
        assert match_retained == pytest.approx(agree / n)


def test_an_evaluation_without_confirmed_gold_is_refused_at_launch(project, version):
    kit.gold(project, classification=False, confirmed=False)
    with pytest.raises(Invalid, match="no confirmed gold items"):
        launch_evaluation(project, {"model_version": version.pk})


def test_an_evaluation_whose_version_files_vanished_fails_with_the_reason(project, version):
    kit.gold(project, classification=False)
    job = launch_evaluation(project, {"model_version": version.pk})
    shutil.rmtree(version.artifact_path)
    assert jobs.run(job.pk, run_evaluation_job) == "failed"
    job.refresh_from_db()
    assert "its files are gone" in job.message and not EvalReport.objects.exists()


def test_a_redelivered_evaluation_does_not_write_a_second_report(project, version):
    kit.gold(project, classification=False)
    hook = webhooks.subscribe(project, "http://127.0.0.1:9/hook", ["evaluation.ready"])
    job = launch_evaluation(project, {"model_version": version.pk})
    assert jobs.run(job.pk, run_evaluation_job) == "succeeded"
    Job.objects.filter(pk=job.pk).update(status="queued")
    assert jobs.run(job.pk, run_evaluation_job) == "succeeded"
    assert EvalReport.objects.filter(job=job).count() == 1
    (ready,) = hook.deliveries.all()  # announced once, by the run that wrote the report
    assert ready.payload["data"]["report"]["id"] == EvalReport.objects.get(job=job).pk


def test_a_generation_report_is_judged_from_probabilities_and_measured_against_reviewers(
    project, version, tiny_model_dir
):
    from tests.factories import ExampleFactory, PromptFactory
    from workers import judge
    from workers.teacher.hf import HFTeacher

    project.judge_rubric = "5: right category. 1: wrong."
    project.save()
    kit.gold(project, classification=False)
    graded = [ExampleFactory(prompt=PromptFactory(project=project), grade=1 + i % 5) for i in range(6)]
    ExampleFactory(prompt=PromptFactory(project=project))  # no grade: not in the agreement
    job, report = evaluate_job(project, version)
    assert job.params["judge"]["spec"]["path"] == str(tiny_model_dir)  # no judge spec: the teacher judges

    block = report.metrics["judge"]
    prompts = [kit.ticket_prompt(text) for text, *_ in kit.GOLD_TICKETS]
    by_hand = judge.judge(
        HFTeacher(str(tiny_model_dir)),
        [{"prompt": p, "answer": a} for p, a in zip(prompts, report.per_item["student_outputs"])],
        project.judge_rubric,
        judge.DEFAULT_GRADES,
    )
    assert block["per_item"]["student"] == pytest.approx([j.expected for j in by_hand], rel=1e-5)
    assert block["n"] == 3 and block["student"]["expected"]["mean"] == pytest.approx(
        sum(j.expected for j in by_hand) / 3, rel=1e-5
    )
    t_norm = sum((e - 1) / 4 for e in block["per_item"]["teacher"]) / 3
    s_norm = sum(j.normalized for j in by_hand) / 3
    assert report.quality_retained == pytest.approx(s_norm / t_norm, rel=1e-5)
    assert report.metrics["quality_basis"] == "judged" and report.metrics["quality_retained_n"] == 3
    low, high = report.metrics["quality_retained_ci95"]
    assert low <= report.quality_retained <= high
    assert report.metrics["match_basis"]["quality_basis"] in ("normalized_match", "teacher_agreement")
    agreement = block["agreement"]
    assert (
        agreement["n"] == len(graded) and agreement["trustworthy"] is False and "only 6 examples" in agreement["reason"]
    )


def test_a_judge_that_cannot_run_leaves_a_note_and_the_report_stands(project, version, tiny_model_dir):
    from curation.models import ModelSpec

    project.judge_spec = ModelSpec.objects.create(
        project=project, name="far judge", backend="openai", path="m", base_url="http://127.0.0.1:9/v1"
    )
    project.save()
    kit.gold(project, classification=False)
    _, report = evaluate_job(project, version)
    assert report.metrics["judge"] is None
    assert any("the judge 'far judge' did not run" in n for n in report.metrics["notes"])
    assert report.metrics["quality_basis"] in ("normalized_match", "teacher_agreement")
    assert report.metrics["generation"]["overall"]["student"]["n"] == 3


def test_a_judge_served_over_an_openai_compatible_server_scores_the_report_from_its_logprobs(
    project, version, tiny_model_dir
):
    from curation.models import ModelSpec
    from tests.workers.openai_server import TinyModelServer

    kit.gold(project, classification=False)
    vocab = len(AutoTokenizer.from_pretrained(tiny_model_dir))
    with TinyModelServer(tiny_model_dir) as server:
        project.judge_spec = ModelSpec.objects.create(
            project=project, name="served judge", backend="openai", path="tiny", base_url=server.url,
            tokenizer_path=str(tiny_model_dir), options={"max_logprobs": vocab},
        )  # fmt: skip
        project.save()
        _, report = evaluate_job(project, version)
        asked = [r for r in server.requests if r.get("max_tokens") == 1]
        prompts = [kit.ticket_prompt(text) for text, *_ in kit.GOLD_TICKETS]
    block = report.metrics["judge"]
    assert block is not None, report.metrics["notes"]
    assert len(asked) >= 2 * len(prompts)  # student's and teacher's answers, each scored by the server
    assert all(("logprobs" in r) or ("top_logprobs" in r) for r in asked)  # read from logprobs, never parsed text
    # with the server's whole vocabulary in reach (max_logprobs) every answer gets a grade (at the usual
    # 20 this tiny judge puts no grade token in its top 20: every item would be unscored); that the
    # server's grades equal the local model's is tests/workers/test_judge.py's
    assert None not in block["per_item"]["student"] + block["per_item"]["teacher"]
    assert all(1.0 <= g <= 5.0 for g in block["per_item"]["student"] + block["per_item"]["teacher"])
    assert block["n"] == len(prompts) and report.metrics["quality_basis"] == "judged"
