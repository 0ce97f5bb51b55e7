"""Student vs teacher on a gold set: quality by tier, calibration, speed, memory.

Gold items: generation ``{"prompt": str | messages, "reference": str, "tier": str | None}``;
classification ``{"prompt": ..., "label": str, "tier": str | None}``.

Definitions (what the report shows):
- exact match: generated text == reference after stripping outer whitespace;
  normalized match: equal after ``normalize_text`` (lowercase, punctuation -> space,
  whitespace runs -> one space).
- teacher agreement (generation): teacher-forced on the reference, share of reference
  tokens where student and teacher have the same top-1 token; mean KL(teacher ||
  student) per reference token over the full vocabulary; reference perplexity
  exp(mean NLL of the reference tokens). These need a shared tokenizer; otherwise None.
- classification: a model's label distribution is the softmax over each label's
  summed continuation log-probabilities (as in training); accuracy and macro-F1 (mean
  F1 over the labels that occur in the gold labels or the predictions) against the
  gold label; agreement = same top label as the teacher; ECE with 15 equal-width
  confidence bins ``(i/15, (i+1)/15]`` (0 falls in the first), ``sum_b n_b/N *
  |accuracy_b - confidence_b|``, with per-bin data for a reliability diagram.
- quality_retained: classification accuracy(student) / accuracy(teacher); generation
  normalized-match(student) / normalized-match(teacher), or, when the teacher matches
  no reference, the student's teacher agreement (the teacher agrees with itself: 1).
- quality_retained_ci95: a 95% paired bootstrap interval of that ratio over the gold
  items (``workers.stats``), with ``quality_retained_n`` items.
- speed: each gold request is timed (greedy generation, or label scoring) after one
  warm-up request. Both models run at the **same** CPU thread count (``same_threads``):
  the one (all cores or one) that answers the teacher's first gold requests faster, so
  the speed-up compares models, not thread settings; p50/p95 latency in ms, tokens/s =
  generated (or scored prompt) tokens / total time; speedup = teacher p50 / student p50.
- per item (for paired comparisons between students): each gold item's headline score, 1.0
  right and 0.0 wrong (accuracy, or normalized match), in gold order, with the caller's ``id``.
- generation (free text): chrF, ROUGE-L, the checks' pass rate and length statistics with
  95% intervals, overall and by tier, and chrF retained (``workers.genmetrics``); each
  item's answer is kept in ``per_item`` (``student_outputs``/``teacher_outputs``) for the
  judge and the blind side-by-side review.
- memory: parameter + buffer bytes, and the process's peak RSS while the model was
  evaluated (sampled; both models are loaded, so it is the evaluation's footprint).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from workers import genmetrics
from workers.distill.data import collate_classification, label_scores, label_token_ids, move
from workers.evalmetrics import ECE_BINS, expected_calibration_error, macro_f1, normalize_text, perplexity  # noqa: F401
from workers.memory import PeakRSS
from workers.prompting import render_prompt


@dataclass
class LoadedModel:
    model: torch.nn.Module
    tokenizer: object
    name: str = "model"


def load_model(path: str, name: str | None = None) -> LoadedModel:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    model.eval()
    return LoadedModel(model, tok, name or str(path))


def _percentile(values, q):
    return float(np.percentile(values, q)) if values else None


def model_memory(model) -> dict:
    params = sum(p.numel() for p in model.parameters())
    nbytes = sum(p.numel() * p.element_size() for p in model.parameters())
    nbytes += sum(b.numel() * b.element_size() for b in model.buffers())
    return {"parameters": params, "param_buffer_bytes": nbytes}


# ------------------------------------------------------------------ generation
def _ids(tok, text):
    return list(tok(text, add_special_tokens=False)["input_ids"])


@torch.inference_mode()
def _generate(lm: LoadedModel, prompt, max_new_tokens):
    tok = lm.tokenizer
    ids = torch.tensor([_ids(tok, render_prompt(tok, prompt))])
    start = time.perf_counter()
    out = lm.model.generate(
        input_ids=ids,
        attention_mask=torch.ones_like(ids),
        max_new_tokens=max_new_tokens,
        do_sample=False,
        pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
        output_scores=True,
        return_dict_in_generate=True,
    )
    elapsed = time.perf_counter() - start
    new = out.sequences[0, ids.shape[1] :].tolist()
    # The student's confidence in its own answer (routing): mean log-probability of the
    # tokens it chose, from the scores generate() already computed (after the timing).
    chosen = [torch.log_softmax(step[0].float(), -1)[t].item() for step, t in zip(out.scores, new)]
    confidence = float(np.mean(chosen)) if chosen else 0.0
    return tok.decode(new, skip_special_tokens=True), len(new), elapsed, ids.shape[1], confidence


@torch.no_grad()
def _reference_logits(lm: LoadedModel, prompt, reference):
    tok = lm.tokenizer
    p = _ids(tok, render_prompt(tok, prompt))
    r = _ids(tok, reference)
    logits = lm.model(input_ids=torch.tensor([p + r])).logits[0, len(p) - 1 : -1].float()
    return logits, torch.tensor(r)


def _fastest_threads(request, probes) -> int:
    """Set torch's CPU threads to whichever answers ``probes`` faster, all cores or one.

    Each model is timed at its own best setting on this machine: a small model's
    batch-1 requests are often faster on one thread (a parallel region waits for its
    slowest thread, worse when other work shares the cores), a bigger one's on all.
    """
    current = torch.get_num_threads()
    if current <= 1:
        return current
    timings = {}
    for threads in (current, 1):
        torch.set_num_threads(threads)
        request(probes[0])  # the first request after a switch pays for the thread pool
        timings[threads] = float(np.median([request(p) for p in probes]))
    best = min(timings, key=timings.get)
    torch.set_num_threads(best)
    return best


def _with_threads(fn):
    """Run ``fn`` (which may change torch's thread count) and restore the count after."""

    def wrapped(*args, **kwargs):
        before = torch.get_num_threads()
        try:
            return fn(*args, **kwargs)
        finally:
            torch.set_num_threads(before)

    return wrapped


def _pick_threads(request, probes, threads: int | None) -> int:
    """``threads`` when given (the other model's choice), else the faster of all cores and one."""
    if threads is None:
        return _fastest_threads(request, probes)
    torch.set_num_threads(threads)
    request(probes[0])  # the first request after a switch pays for the thread pool
    return threads


PER_TOKEN_PROMPTS = 32


@_with_threads
@torch.inference_mode()
def _ms_per_token(lm: LoadedModel, gold, n_tokens: int, threads: int) -> float:
    """Milliseconds per generated token when every answer is exactly ``n_tokens`` long (greedy)."""
    torch.set_num_threads(threads)
    tok = lm.tokenizer
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    elapsed = 0.0
    for i, g in enumerate(gold[: PER_TOKEN_PROMPTS + 1]):
        ids = torch.tensor([_ids(tok, render_prompt(tok, g["prompt"]))])
        start = time.perf_counter()
        lm.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), min_new_tokens=n_tokens,
                          max_new_tokens=n_tokens, do_sample=False, pad_token_id=pad)  # fmt: skip
        if i:  # the first is a warm-up
            elapsed += time.perf_counter() - start
    return elapsed * 1000 / (n_tokens * min(len(gold) - 1, PER_TOKEN_PROMPTS) or 1)


def per_token_speed(student: LoadedModel, teacher: LoadedModel, gold, n_tokens: int, threads: int) -> dict:
    """Generation latency per token at matched output lengths and the same thread count."""
    s = _ms_per_token(student, gold, n_tokens, threads)
    t = _ms_per_token(teacher, gold, n_tokens, threads)
    return {"student_ms_per_token": s, "teacher_ms_per_token": t, "speedup": t / s if s else None,
            "tokens": n_tokens, "threads": threads, "prompts": min(len(gold) - 1, PER_TOKEN_PROMPTS)}  # fmt: skip


@_with_threads
def _generation_items(lm: LoadedModel, gold, max_new_tokens, check_fn, threads: int | None = None):
    _generate(lm, gold[0]["prompt"], max_new_tokens)  # warm-up, not timed
    threads = _pick_threads(lambda g: _generate(lm, g["prompt"], max_new_tokens)[2], gold[:3], threads)
    items = []
    for g in gold:
        text, n_new, elapsed, n_prompt, confidence = _generate(lm, g["prompt"], max_new_tokens)
        item = {
            "tier": g.get("tier"),
            "exact": float(text.strip() == g["reference"].strip()),
            "normalized": float(normalize_text(text) == normalize_text(g["reference"])),
            "latency_s": elapsed,
            "tokens": n_new,
            "prompt_tokens": n_prompt,
            "confidence": confidence,
            "output": text,
            "threads": threads,
            **genmetrics.item_metrics(text, g["reference"], n_new),
        }
        if check_fn is not None:
            item["check"] = float(bool(check_fn(text)))
        items.append(item)
    return items


def _teacher_forced(student: LoadedModel, teacher: LoadedModel, gold, s_items, t_items):
    for g, si, ti in zip(gold, s_items, t_items):
        s_logits, ref = _reference_logits(student, g["prompt"], g["reference"])
        t_logits, _ = _reference_logits(teacher, g["prompt"], g["reference"])
        s_logp, t_logp = torch.log_softmax(s_logits, -1), torch.log_softmax(t_logits, -1)
        n = len(ref)
        si["n_ref"] = ti["n_ref"] = n
        si["nll"] = -s_logp.gather(-1, ref[:, None]).sum().item()
        ti["nll"] = -t_logp.gather(-1, ref[:, None]).sum().item()
        si["agree"] = (s_logits.argmax(-1) == t_logits.argmax(-1)).sum().item()
        ti["agree"] = float(n)
        si["kl"] = (t_logp.exp() * (t_logp - s_logp)).sum().item()
        ti["kl"] = 0.0


def _aggregate_generation(items) -> dict:
    out = {
        "n": len(items),
        "exact_match": float(np.mean([i["exact"] for i in items])),
        "normalized_match": float(np.mean([i["normalized"] for i in items])),
    }
    if items and "check" in items[0]:
        out["check_pass_rate"] = float(np.mean([i["check"] for i in items]))
    if items and "n_ref" in items[0]:
        n_tok = sum(i["n_ref"] for i in items)
        out["teacher_agreement"] = sum(i["agree"] for i in items) / n_tok
        out["mean_kl_to_teacher"] = sum(i["kl"] for i in items) / n_tok
        out["reference_perplexity"] = perplexity(sum(i["nll"] for i in items), n_tok)
    return out


# --------------------------------------------------------------- classification
@_with_threads
@torch.inference_mode()
def _classification_items(lm: LoadedModel, gold, labels, threads: int | None = None):
    tok = lm.tokenizer
    conts = label_token_ids(tok, labels)
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    from workers.distill.data import ClsExample

    def score(g):
        ex = ClsExample(_ids(tok, render_prompt(tok, g["prompt"])), labels.index(g["label"]), None)
        batch = move(collate_classification([ex], pad), "cpu")
        start = time.perf_counter()
        probs = torch.softmax(label_scores(lm.model, batch, conts, pad)[0], -1)
        return probs, time.perf_counter() - start, len(ex.prompt_ids)

    score(gold[0])  # warm-up
    threads = _pick_threads(lambda g: score(g)[1], gold[:10], threads)
    items = []
    for g in gold:
        probs, elapsed, n_tok = score(g)
        pred = int(probs.argmax())
        items.append(
            {
                "tier": g.get("tier"),
                "gold": g["label"],
                "pred": labels[pred],
                "confidence": float(probs[pred]),
                "probs": probs.tolist(),
                "latency_s": elapsed,
                "tokens": n_tok,
                "prompt_tokens": n_tok,
                "threads": threads,
            }
        )
    return items


def _aggregate_classification(items, labels, teacher_items=None) -> dict:
    preds, golds = [i["pred"] for i in items], [i["gold"] for i in items]
    correct = [p == g for p, g in zip(preds, golds)]
    ece, bins = expected_calibration_error([i["confidence"] for i in items], correct)
    out = {
        "n": len(items),
        "accuracy": float(np.mean(correct)),
        "macro_f1": macro_f1(preds, golds),
        "ece": ece,
        "reliability": bins,
    }
    if teacher_items is not None:
        out["teacher_agreement"] = float(np.mean([a["pred"] == b["pred"] for a, b in zip(items, teacher_items)]))
    return out


# --------------------------------------------------------------------- report
def _by_tier(items, aggregate):
    groups = defaultdict(list)
    for idx, item in enumerate(items):
        groups[item["tier"] or "untiered"].append(idx)
    return {tier: aggregate(idxs) for tier, idxs in sorted(groups.items())}


def _speed(items, memory, peak_rss_mb) -> dict:
    lat = [i["latency_s"] for i in items]
    return {
        "latency_p50_ms": _percentile(lat, 50) * 1000,
        "latency_p95_ms": _percentile(lat, 95) * 1000,
        "tokens_per_s": sum(i["tokens"] for i in items) / max(sum(lat), 1e-12),
        "threads": items[0].get("threads") if items else None,
        **memory,
        "peak_rss_mb": peak_rss_mb,
    }


def _run(lm, fn):
    """The model's items and the process's peak RSS (MiB) while it ran them (both models loaded)."""
    with PeakRSS() as peak:
        items = fn(lm)
    return items, peak.peak_mb


def evaluate(
    student: LoadedModel | str,
    teacher: LoadedModel | str,
    gold: list[dict],
    *,
    task: str = "generation",
    labels: list[str] | None = None,
    check_fn: Callable[[str], bool] | None = None,
    max_new_tokens: int = 32,
    validation: list[dict] | None = None,
) -> dict:
    """The full report (JSON-safe dict): per-model metrics overall and by tier, speed,
    memory, and the headline ``quality_retained`` and ``speedup``.

    ``validation`` (items shaped like gold: the project's dev items, or the snapshots' validation
    rows) is scored by both models too, per item only: the routing simulation picks its threshold there.
    """
    if not gold:
        raise ValueError("the gold set is empty: nothing to evaluate")
    student = load_model(student, "student") if isinstance(student, str) else student
    teacher = load_model(teacher, "teacher") if isinstance(teacher, str) else teacher
    student.model.eval()
    teacher.model.eval()
    notes = []
    if task == "classification":
        if not labels:
            raise ValueError("classification evaluation needs the project labels")
        unknown = {g["label"] for g in gold} - set(labels)
        if unknown:
            raise ValueError(f"gold labels {sorted(unknown)} are not project labels {labels}")
        t_items, t_rss = _run(teacher, lambda m: _classification_items(m, gold, labels))
        same = t_items[0]["threads"]
        s_items, s_rss = _run(student, lambda m: _classification_items(m, gold, labels, same))

        def items_of(model, data):
            return _classification_items(model, data, labels, same)

        def student_agg(idx):
            return _aggregate_classification([s_items[i] for i in idx], labels, [t_items[i] for i in idx])

        def teacher_agg(idx):
            return _aggregate_classification([t_items[i] for i in idx], labels)

        headline_key = "accuracy"
    elif task == "generation":
        missing = [i for i, g in enumerate(gold) if not g.get("reference")]
        if missing:
            raise ValueError(f"gold items {missing[:5]} have no reference answer")
        t_items, t_rss = _run(teacher, lambda m: _generation_items(m, gold, max_new_tokens, check_fn))
        same = t_items[0]["threads"]
        s_items, s_rss = _run(student, lambda m: _generation_items(m, gold, max_new_tokens, check_fn, same))
        if student.tokenizer.get_vocab() == teacher.tokenizer.get_vocab():
            _teacher_forced(student, teacher, gold, s_items, t_items)
        else:
            notes.append(
                "student and teacher tokenizers differ: teacher agreement, KL and a comparable perplexity are "
                "not computed"
            )

        def items_of(model, data):
            return _generation_items(model, data, max_new_tokens, check_fn, same)

        def student_agg(idx):
            return _aggregate_generation([s_items[i] for i in idx])

        def teacher_agg(idx):
            return _aggregate_generation([t_items[i] for i in idx])

        headline_key = "normalized_match"
    else:
        raise ValueError(f"unknown task {task!r}: generation or classification")
    everything = list(range(len(gold)))
    s_all, t_all = student_agg(everything), teacher_agg(everything)
    if t_all[headline_key] > 0:
        quality, basis = s_all[headline_key] / t_all[headline_key], headline_key
    elif task == "generation" and "teacher_agreement" in s_all:
        quality, basis = s_all["teacher_agreement"], "teacher_agreement"
    else:
        quality, basis = None, headline_key
        notes.append(f"the teacher's {headline_key} is 0: quality retained is undefined")
    per_item = {
        "metric": headline_key,
        "ids": [g.get("id") for g in gold],
        "student": [_item_score(i, headline_key) for i in s_items],
        "teacher": [_item_score(i, headline_key) for i in t_items],
        **_routing_inputs(task, s_items, t_items),
    }
    if validation:
        v_student, v_teacher = items_of(student, validation), items_of(teacher, validation)
        per_item["validation"] = {
            "ids": [v.get("id") for v in validation],
            "student": [_item_score(i, headline_key) for i in v_student],
            "teacher": [_item_score(i, headline_key) for i in v_teacher],
            "student_confidence": [i["confidence"] for i in v_student],
        }
    s_speed = _speed(s_items, model_memory(student.model), s_rss)
    t_speed = _speed(t_items, model_memory(teacher.model), t_rss)
    interval = _retained_interval(task, s_items, t_items) if basis == headline_key else None
    if task == "generation":
        per_item["student_outputs"] = [i["output"] for i in s_items]
        per_item["teacher_outputs"] = [i["output"] for i in t_items]
        per_item["tiers"] = [g.get("tier") for g in gold]
    return {
        "task": task,
        "n_items": len(gold),
        "student": {"overall": s_all, "by_tier": _by_tier(s_items, student_agg), "speed": s_speed},
        "teacher": {"overall": t_all, "by_tier": _by_tier(t_items, teacher_agg), "speed": t_speed},
        "quality_retained": quality,
        "quality_retained_ci95": interval.ci if interval is not None else None,
        "quality_retained_n": len(gold),
        "quality_basis": basis,
        "same_threads": s_speed["threads"] == t_speed["threads"],
        "speedup": t_speed["latency_p50_ms"] / s_speed["latency_p50_ms"] if s_speed["latency_p50_ms"] else None,
        "samples": [
            {
                "prompt": g["prompt"] if isinstance(g["prompt"], str) else "\n".join(m["content"] for m in g["prompt"]),
                "gold": g.get("reference", g.get("label")),
                "student": s.get("output", s.get("pred")),
                "teacher": t.get("output", t.get("pred")),
            }
            for g, s, t in zip(gold[:20], s_items[:20], t_items[:20])
        ],
        "notes": notes,
        "per_item": per_item,
        "generation": genmetrics.report(s_items, t_items, [g.get("tier") for g in gold])
        if task == "generation"
        else None,
        "per_token": per_token_speed(student, teacher, gold, max_new_tokens, same)
        if task == "generation" and len(gold) > 1
        else None,
    }


def _routing_inputs(task, s_items, t_items) -> dict:
    """Per gold item, what the routing simulation needs: the student's confidence (top label
    probability, or mean log-probability of its generated tokens), both latencies, and the
    tokens a per-token price applies to (label scoring generates none)."""
    generated = task == "generation"
    return {
        "student_confidence": [i["confidence"] for i in s_items],
        "student_latency_s": [i["latency_s"] for i in s_items],
        "teacher_latency_s": [i["latency_s"] for i in t_items],
        "input_tokens": [i["prompt_tokens"] for i in s_items],
        "student_output_tokens": [i["tokens"] if generated else 0 for i in s_items],
        "teacher_output_tokens": [i["tokens"] if generated else 0 for i in t_items],
    }


def _item_score(item: dict, metric: str) -> float:
    """One gold item's headline score: 1.0 right, 0.0 wrong (accuracy or normalized match)."""
    return float(item["pred"] == item["gold"]) if metric == "accuracy" else float(item["normalized"])


def _retained_interval(task, s_items, t_items):
    """95% paired bootstrap interval of student / teacher quality over the gold items."""
    from workers.stats import paired_bootstrap

    if task == "classification":
        s = [float(i["pred"] == i["gold"]) for i in s_items]
        t = [float(i["pred"] == i["gold"]) for i in t_items]
    else:
        s, t = [i["normalized"] for i in s_items], [i["normalized"] for i in t_items]
    return paired_bootstrap(s, t, statistic="ratio")
