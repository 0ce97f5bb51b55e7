import json
from types import SimpleNamespace

import pytest
import torch

from workers.demo import teacher as teacher_module
from workers.demo.__main__ import main
from workers.demo.corpus import GOLD_SEED, LABELS, Ticket, generate_tickets, triage_prompt
from workers.demo.evaluation import label_logprobs, load, triage_accuracy, triage_predictions
from workers.demo.student import build_demo_student
from workers.demo.teacher import INFO_FILE, TeacherRecipe, _training_pairs, build_demo_teacher
from workers.prompting import label_continuation, render_prompt

TINY = TeacherRecipe(
    n_layer=1,
    n_head=2,
    n_embd=32,
    vocab_size=400,
    n_train_tickets=120,
    n_gold_tickets=24,
    batch_size=8,
    steps=12,
    warmup_steps=2,
    max_len=128,
    n_positions=128,
)


class OneTokenLover(torch.nn.Module):
    """A hand-made "model" whose every next-token distribution puts its mass on one token."""

    def __init__(self, vocab_size, favourite):
        super().__init__()
        self.vocab_size, self.favourite = vocab_size, favourite

    def forward(self, input_ids, attention_mask=None):
        logits = torch.zeros((*input_ids.shape, self.vocab_size))
        logits[..., self.favourite] = 10.0
        return SimpleNamespace(logits=logits)


def _manual_scores(model, tokenizer, prompt):
    """Each label's summed continuation log-probability, one unbatched forward pass per label."""
    ids = tokenizer(render_prompt(tokenizer, prompt), add_special_tokens=False)["input_ids"]
    scores = []
    for label in LABELS:
        cont = tokenizer(label_continuation(label), add_special_tokens=False)["input_ids"]
        full = torch.tensor([ids + cont])
        with torch.no_grad():
            logp = torch.log_softmax(model(input_ids=full).logits[0].float(), dim=-1)
        scores.append(sum(float(logp[len(ids) - 1 + j, tok]) for j, tok in enumerate(cont)))
    return scores


@pytest.mark.slow  # scores with a real (tiny) model
def test_it_scores_labels_by_their_continuation(tiny_model_dir):
    model, tokenizer = load(tiny_model_dir)
    tickets = generate_tickets(6, seed=2, split="gold")
    got = label_logprobs(model, tokenizer, [triage_prompt(t.text) for t in tickets], batch_size=4)
    for row, t in zip(got.tolist(), tickets):
        assert row == pytest.approx(_manual_scores(model, tokenizer, triage_prompt(t.text)), abs=1e-4)


def test_it_counts_a_hit_when_the_best_label_is_the_right_one(tiny_model_dir):
    _, tokenizer = load(tiny_model_dir)
    conts = {label: tokenizer(label_continuation(label), add_special_tokens=False)["input_ids"] for label in LABELS}
    winner = next(label for label, ids in conts.items() if len(ids) == 1)
    assert any(len(ids) > 1 for ids in conts.values())  # so the multi-token path is in play too
    model = OneTokenLover(len(tokenizer), conts[winner][0])
    loser = next(label for label in LABELS if label != winner)
    tickets = [Ticket("Refund me", winner, "Ok.", "x.t0"), Ticket("App crashes", loser, "Ok.", "x.t1")]
    assert triage_predictions(model, tokenizer, tickets) == [winner, winner]


@pytest.mark.slow  # scores with a real (tiny) model
def test_triage_accuracy_matches_a_manual_count(tiny_model_dir):
    model, tokenizer = load(tiny_model_dir)
    tickets = generate_tickets(8, seed=5, split="gold")
    expected = 0
    for t in tickets:
        scores = _manual_scores(model, tokenizer, triage_prompt(t.text))
        expected += LABELS[max(range(len(LABELS)), key=scores.__getitem__)] == t.label
    assert triage_accuracy(tiny_model_dir, tickets) == pytest.approx(expected / len(tickets))


def test_it_refuses_a_directory_without_a_model(tmp_path):
    with pytest.raises(FileNotFoundError, match="build the demo teacher first"):
        triage_accuracy(tmp_path, generate_tickets(2))


def test_it_refuses_an_inconsistent_recipe():
    with pytest.raises(ValueError, match="multiple of n_head"):
        TeacherRecipe(n_embd=100, n_head=3)
    with pytest.raises(ValueError, match="prompt_loss_weight"):
        TeacherRecipe(prompt_loss_weight=2.0)
    with pytest.raises(ValueError, match="steps must be positive"):
        TeacherRecipe(steps=0)


def test_recipe_options_are_checked():
    with pytest.raises(ValueError, match="ema_decay"):
        TeacherRecipe(ema_decay=1.0)
    with pytest.raises(ValueError, match="threads must be positive"):
        TeacherRecipe(threads=0)
    with pytest.raises(ValueError, match="triage_repeats must be positive"):
        TeacherRecipe(triage_repeats=0)


def test_each_ticket_gives_triage_repeats_triage_prompts_and_one_reply():
    import random

    tickets = generate_tickets(5, seed=0, split="train")
    pairs = _training_pairs(tickets, random.Random(0), 0.3, triage_repeats=3)
    assert len(pairs) == 5 * 4
    triage = [a for _p, a in pairs if a in {label_continuation(label) for label in LABELS}]
    assert len(triage) == 15
    first = [p for p, _a in pairs[:3]]
    assert all(p.startswith(triage_prompt("")[:10]) for p in first)
    assert len(set(first)) > 1  # each repeat drops its own words


@pytest.mark.slow
def test_one_recipe_gives_the_same_teacher_whatever_the_threads_around_it(tmp_path):
    """Training runs on the recipe's thread count, not the caller's: two builds match bit for bit."""
    from safetensors.torch import load_file

    before = torch.get_num_threads()
    recipe = TeacherRecipe(**{**TINY.__dict__, "ema_decay": 0.9, "triage_repeats": 2})
    try:
        torch.set_num_threads(2)
        build_demo_teacher(tmp_path / "a", recipe=recipe, log=None)
        assert torch.get_num_threads() == 2  # restored
        torch.set_num_threads(1)
        build_demo_teacher(tmp_path / "b", recipe=recipe, log=None)
    finally:
        torch.set_num_threads(before)
    a, b = load_file(tmp_path / "a" / "model.safetensors"), load_file(tmp_path / "b" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_it_builds_caches_and_reuses_the_demo_teacher(tmp_path, monkeypatch):
    out = tmp_path / "teacher"
    messages = []
    info = build_demo_teacher(out, recipe=TINY, log=messages.append)
    # A fixed number of steps, whatever the machine; far below its target, and it says so loudly.
    assert info["cached"] is False and info["steps"] == TINY.steps
    assert info["meets_target"] is False and info["target_gold_accuracy"] == 0.9
    assert any(m.startswith("WARNING: the demo teacher reached") and "--steps" in m for m in messages)
    saved = json.loads((out / INFO_FILE).read_text())
    assert {"gold_accuracy", "parameters", "train_time_s", "seed", "corpus", "recipe"} <= set(saved)
    assert saved["parameters"] < 200_000
    gold = generate_tickets(TINY.n_gold_tickets, seed=GOLD_SEED, split="gold")
    assert triage_accuracy(out, gold) == pytest.approx(saved["gold_accuracy"])
    assert any("gold triage accuracy" in m for m in messages)

    weights = out / "model.safetensors"
    stamp = weights.stat().st_mtime_ns
    again = build_demo_teacher(out, recipe=TINY, log=None)
    assert again["cached"] is True and weights.stat().st_mtime_ns == stamp

    monkeypatch.setattr(teacher_module, "corpus_fingerprint", lambda: "v999-changed")
    rebuilt = build_demo_teacher(out, recipe=TINY, log=None)
    assert rebuilt["cached"] is False and rebuilt["corpus"] == "v999-changed"

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        student_info = build_demo_student(out, tmp_path / "student", n_layer=1, n_embd=16, n_head=2, latency_runs=5)
        assert torch.get_num_threads() == 1  # timed on every core, then the caller's setting back
    finally:
        torch.set_num_threads(threads)
    _student, student_tok = load(tmp_path / "student")
    _teacher, teacher_tok = load(out)
    assert student_tok.get_vocab() == teacher_tok.get_vocab()
    assert student_info["parameters"] < student_info["teacher_parameters"]
    assert student_info["latency_ratio"] > 0
    assert student_info["init"]["from"] == "teacher" and 0 < student_info["init"]["token_variance_kept"] <= 1


def test_the_cli_writes_import_files_and_explains_a_missing_teacher(tmp_path, capsys):
    assert main(["corpus", "--out", str(tmp_path), "--train", "8", "--gold", "4"]) == 0
    assert (tmp_path / "triage_gold.jsonl").read_text().count("\n") == 4
    assert main(["student", "--teacher", str(tmp_path / "none"), "--out", str(tmp_path / "s")]) == 2
    assert "build the demo teacher first" in capsys.readouterr().err


def test_the_weight_average_warms_up_so_a_short_run_is_not_its_initial_weights():
    from workers.demo.teacher import _ema

    average = _ema(0.998)
    early = average(torch.tensor(0.0), torch.tensor(1.0), torch.tensor(1))
    assert early == pytest.approx(1 - 2 / 11)  # rate (1 + 1) / (10 + 1)
    late = average(torch.tensor(0.0), torch.tensor(1.0), torch.tensor(100_000))
    assert late == pytest.approx(1 - 0.998)
