import functools
import math

import pytest
import torch

from workers.evaluation import (
    evaluate,
    expected_calibration_error,
    load_model,
    macro_f1,
    normalize_text,
    perplexity,
)
from workers.prompting import render_prompt


def test_it_computes_ece_and_reliability_bins_by_hand():
    conf = [0.95, 0.95, 0.55, 0.55, 0.55, 0.0]
    correct = [True, False, True, True, False, False]
    ece, bins = expected_calibration_error(conf, correct)
    # bins: 0.95 -> bin 14, 0.55 -> bin 8 ((8/15, 9/15]), 0.0 -> bin 0
    expected = 2 / 6 * abs(0.5 - 0.95) + 3 / 6 * abs(2 / 3 - 0.55) + 1 / 6 * abs(0 - 0.0)
    assert ece == pytest.approx(expected)
    assert len(bins) == 15
    assert bins[14]["count"] == 2 and bins[14]["accuracy"] == 0.5
    assert bins[8]["count"] == 3 and bins[8]["confidence"] == pytest.approx(0.55)
    assert bins[0]["count"] == 1 and bins[3]["count"] == 0 and bins[3]["accuracy"] is None


def test_it_computes_macro_f1_by_hand():
    golds = ["a", "a", "b", "c"]
    preds = ["a", "b", "b", "b"]
    # a: tp1 fp0 fn1 -> 2/3; b: tp1 fp2 fn0 -> 2/4; c: tp0 fp0 fn1 -> 0
    assert macro_f1(preds, golds) == pytest.approx((2 / 3 + 0.5 + 0) / 3)


def test_it_normalizes_text_and_computes_perplexity():
    assert normalize_text("  Hello,   World!! ") == "hello world"
    assert perplexity(2 * math.log(4), 2) == pytest.approx(4.0)


def _hand_reference_stats(student, teacher, prompt, reference):
    tok = student.tokenizer
    p = tok(render_prompt(tok, prompt), add_special_tokens=False).input_ids
    r = tok(reference, add_special_tokens=False).input_ids
    with torch.no_grad():
        s = torch.log_softmax(student.model(torch.tensor([p + r])).logits[0], -1)
        t = torch.log_softmax(teacher.model(torch.tensor([p + r])).logits[0], -1)
    nll, kl, agree = 0.0, 0.0, 0
    for j, token in enumerate(r):
        pos = len(p) - 1 + j
        nll -= s[pos, token].item()
        kl += sum(math.exp(t[pos, v].item()) * (t[pos, v].item() - s[pos, v].item()) for v in range(s.shape[-1]))
        agree += int(s[pos].argmax() == t[pos].argmax())
    return nll, kl, agree, len(r)


@pytest.mark.slow  # evaluates real (tiny) models
def test_the_generation_report_matches_hand_computations(tiny_model_dir, tiny_student_dir):
    student, teacher = load_model(str(tiny_student_dir)), load_model(str(tiny_model_dir))
    gold = [
        {"prompt": "Ticket: refund request\nCategory:", "reference": " billing", "tier": "easy"},
        {"prompt": "Ticket: cannot sign in\nCategory:", "reference": " account", "tier": "hard"},
    ]
    report = evaluate(student, teacher, gold, task="generation", check_fn=lambda text: len(text) > 0, max_new_tokens=4)
    totals = [_hand_reference_stats(student, teacher, g["prompt"], g["reference"]) for g in gold]
    n = sum(t[3] for t in totals)
    overall = report["student"]["overall"]
    assert overall["reference_perplexity"] == pytest.approx(math.exp(sum(t[0] for t in totals) / n), rel=1e-4)
    assert overall["mean_kl_to_teacher"] == pytest.approx(sum(t[1] for t in totals) / n, rel=1e-4)
    assert overall["teacher_agreement"] == pytest.approx(sum(t[2] for t in totals) / n)
    assert report["teacher"]["overall"]["teacher_agreement"] == 1.0
    hard = report["student"]["by_tier"]["hard"]
    assert hard["n"] == 1 and hard["reference_perplexity"] == pytest.approx(
        math.exp(totals[1][0] / totals[1][3]), rel=1e-4
    )
    speed = report["student"]["speed"]
    assert speed["latency_p50_ms"] > 0 and speed["tokens_per_s"] > 0
    assert speed["parameters"] < report["teacher"]["speed"]["parameters"]
    assert speed["param_buffer_bytes"] >= 4 * speed["parameters"]
    # The worker's sampled peak RSS while the model ran holds at least both models' weights.
    both = speed["param_buffer_bytes"] + report["teacher"]["speed"]["param_buffer_bytes"]
    assert speed["peak_rss_mb"] * 2**20 > both and "peak_rss_delta_mb" not in speed
    assert report["speedup"] == pytest.approx(report["teacher"]["speed"]["latency_p50_ms"] / speed["latency_p50_ms"])
    assert 0.0 <= overall["check_pass_rate"] <= 1.0
    # per token: both models generate exactly max_new_tokens, at the teacher's thread count
    per_token = report["per_token"]
    assert per_token["tokens"] == 4 and per_token["threads"] == report["teacher"]["speed"]["threads"]
    assert per_token["speedup"] == pytest.approx(per_token["teacher_ms_per_token"] / per_token["student_ms_per_token"])


@pytest.mark.slow  # evaluates real (tiny) models
def test_the_classification_report_matches_hand_computations(tiny_model_dir, tiny_student_dir):
    student, teacher = load_model(str(tiny_student_dir)), load_model(str(tiny_model_dir))
    labels = ["billing", "account", "technical"]
    gold = [
        {"prompt": "Ticket: refund request\nCategory:", "label": "billing", "tier": "easy"},
        {"prompt": "Ticket: cannot sign in\nCategory:", "label": "account", "tier": "easy"},
        {"prompt": "Ticket: page does not load\nCategory:", "label": "technical", "tier": "hard"},
    ]
    report = evaluate(student, teacher, gold, task="classification", labels=labels)

    def hand(lm):
        tok = lm.tokenizer
        preds, confs = [], []
        for g in gold:
            scores = []
            for label in labels:
                p = tok(render_prompt(tok, g["prompt"]), add_special_tokens=False).input_ids
                c = tok(" " + label, add_special_tokens=False).input_ids
                with torch.no_grad():
                    logp = torch.log_softmax(lm.model(torch.tensor([p + c])).logits[0], -1)
                scores.append(sum(logp[len(p) - 1 + j, t].item() for j, t in enumerate(c)))
            probs = torch.softmax(torch.tensor(scores), -1)
            preds.append(labels[int(probs.argmax())])
            confs.append(float(probs.max()))
        return preds, confs

    s_preds, s_conf = hand(student)
    t_preds, _ = hand(teacher)
    golds = [g["label"] for g in gold]
    correct = [p == g for p, g in zip(s_preds, golds)]
    overall = report["student"]["overall"]
    assert overall["accuracy"] == pytest.approx(sum(correct) / 3)
    assert overall["macro_f1"] == pytest.approx(macro_f1(s_preds, golds))
    assert overall["ece"] == pytest.approx(expected_calibration_error(s_conf, correct)[0], abs=1e-5)
    assert overall["teacher_agreement"] == pytest.approx(sum(a == b for a, b in zip(s_preds, t_preds)) / 3)
    assert sum(b["count"] for b in overall["reliability"]) == 3
    assert set(report["student"]["by_tier"]) == {"easy", "hard"}
    t_acc = report["teacher"]["overall"]["accuracy"]
    assert report["quality_retained"] == (pytest.approx(overall["accuracy"] / t_acc) if t_acc else None)


def test_it_refuses_an_empty_gold_set(tiny_student_dir):
    lm = load_model(str(tiny_student_dir))
    with pytest.raises(ValueError, match="empty"):
        evaluate(lm, lm, [], task="generation")


@pytest.mark.slow  # evaluates real (tiny) models
def test_label_scores_of_an_unpadded_batch_keep_only_the_last_logits_and_equal_the_full_pass(tiny_model_dir):
    from workers.distill.data import ClsExample, collate_classification, label_scores, label_token_ids

    lm = load_model(tiny_model_dir)
    tok, pad = lm.tokenizer, lm.tokenizer.pad_token_id
    # Two labels that are one token each in the tiny vocabulary: the one-pass scoring path.
    words = sorted(t[1:] for t in tok.get_vocab() if t.startswith("\u0120") and t[1:].isalpha() and len(t) > 3)
    labels = [w for w in words if len(label_token_ids(tok, [w])[0]) == 1][:2]
    conts = label_token_ids(tok, labels)
    assert len(labels) == 2 and all(len(c) == 1 for c in conts)
    prompts = ["Ticket: refund please\nCategory:", "Ticket: cannot sign in at all today\nCategory:"]
    exs = [ClsExample(tok(render_prompt(tok, p), add_special_tokens=False)["input_ids"], 0, None) for p in prompts]
    seen = []
    forward = lm.model.forward

    @functools.wraps(forward)
    def spy(*args, **kwargs):
        seen.append(kwargs.get("logits_to_keep"))
        return forward(*args, **kwargs)

    lm.model.forward = spy
    with torch.no_grad():
        alone = [label_scores(lm.model, collate_classification([ex], pad), conts, pad) for ex in exs]
        padded = label_scores(lm.model, collate_classification(exs, pad), conts, pad)  # different lengths: every logit
    assert seen == [1, 1, None]
    assert torch.allclose(torch.cat(alone), padded, atol=1e-5)


@pytest.mark.slow  # evaluates real (tiny) models
def test_both_models_are_timed_at_the_same_thread_count_and_the_count_is_restored(
    tiny_model_dir, tiny_student_dir, monkeypatch
):
    # The speed-up compares models, not thread settings: the teacher's faster setting is
    # chosen once and the student is timed at the same one.
    import workers.evaluation as ev

    student, teacher = load_model(str(tiny_student_dir)), load_model(str(tiny_model_dir))
    labels = ["billing", "account"]
    gold = [{"prompt": f"Ticket: refund request {i}\nCategory:", "label": labels[i % 2]} for i in range(4)]
    torch.set_num_threads(2)
    chosen = []
    real = ev._fastest_threads
    monkeypatch.setattr(
        ev, "_fastest_threads", lambda request, probes: chosen.append(real(request, probes)) or chosen[-1]
    )
    report = evaluate(student, teacher, gold, task="classification", labels=labels)
    assert len(chosen) == 1 and set(chosen) <= {1, 2}
    assert report["student"]["speed"]["threads"] == report["teacher"]["speed"]["threads"] == chosen[0]
    assert report["same_threads"] is True
    low, high = report["quality_retained_ci95"]
    assert low <= report["quality_retained"] <= high and report["quality_retained_n"] == 4
    assert torch.get_num_threads() == 2
