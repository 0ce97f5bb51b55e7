import json
import re
from collections import Counter

import pytest

from workers.demo import corpus
from workers.demo import replies as R
from workers.demo import templates as T
from workers.demo.corpus import (
    LABELS,
    Ticket,
    corpus_fingerprint,
    drafting_prompt,
    generate_tickets,
    normalize,
    pool_tickets,
    template_pool,
    triage_prompt,
    write_import_files,
)


@pytest.fixture(scope="module")
def train():
    return generate_tickets(2000, seed=0, split="train")


@pytest.fixture(scope="module")
def gold():
    return generate_tickets(400, seed=0, split="gold")


def _parts(template_id):
    return template_id.split("+")


def test_it_is_deterministic_given_a_seed():
    assert generate_tickets(50, seed=3) == generate_tickets(50, seed=3)
    assert generate_tickets(50, seed=3) != generate_tickets(50, seed=4)


def test_it_never_uses_a_training_template_in_the_gold_set(train, gold):
    train_parts = {p for t in train for p in _parts(t.template_id)}
    gold_parts = {p for t in gold for p in _parts(t.template_id)}
    assert train_parts and gold_parts
    assert not train_parts & gold_parts
    assert all(p.endswith(tuple(f".t{i}" for i in range(20))) for p in train_parts)


def test_its_template_pools_share_no_wording():
    pools = {split: set(template_pool(split).values()) for split in corpus.SPLITS}
    assert set(pools) == {"train", "gold", "field"}
    for a in pools:
        for b in pools:
            assert a == b or not pools[a] & pools[b], (a, b)


def test_every_category_and_intent_has_field_wordings():
    for label, intents in T.TEMPLATES.items():
        assert T.MIXED[label]["field"] and T.ASIDES[label]["field"], label
        for intent, splits in intents.items():
            assert splits["field"], (label, intent)


def test_the_pool_mixes_in_field_wordings_and_never_gold_ones():
    pool = pool_tickets(400, seed=1)
    tags = Counter(t.template_id.split(".")[2][0] for t in pool)
    assert len(pool) == 400 and tags == {
        "t": 400 - round(400 * corpus.FIELD_SHARE),
        "f": round(400 * corpus.FIELD_SHARE),
    }
    assert pool == pool_tickets(400, seed=1)  # deterministic
    assert len({normalize(t.text) for t in pool}) == 400
    gold_keys = {normalize(t.text) for t in generate_tickets(400, seed=2, split="gold")}
    assert not gold_keys & {normalize(t.text) for t in pool}


def test_it_has_no_gold_prompt_in_the_training_corpus(train, gold):
    train_keys = {normalize(t.text) for t in train}
    assert not train_keys & {normalize(t.text) for t in gold}


def test_its_tickets_are_unique_within_a_split(train):
    assert len({normalize(t.text) for t in train}) == len(train)


def test_it_balances_the_labels(train, gold):
    for tickets in (train, gold):
        counts = Counter(t.label for t in tickets)
        assert set(counts) == set(LABELS)
        assert max(counts.values()) - min(counts.values()) <= 1


def test_it_covers_every_template_of_a_split(train):
    used = {p for t in train for p in _parts(t.template_id)}
    assert used == set(template_pool("train"))


def test_it_makes_typos():
    vocabulary = set()
    for pool in (template_pool("train"), R.REPLIES):
        vocabulary |= set(re.findall(r"[a-z]+", json.dumps(pool).lower()))
    for values in T.SLOTS.values():
        vocabulary |= set(re.findall(r"[a-z]+", " ".join(values).lower()))
    vocabulary |= set(
        re.findall(r"[a-z]+", json.dumps([T.OPENERS, T.SIGN_OFFS, T.PLAIN_CLOSERS, T.NAME_INTROS]).lower())
    )
    tickets = generate_tickets(300, seed=1)
    misspelt = [t for t in tickets if set(re.findall(r"[a-z]{4,}", t.text.lower())) - vocabulary]
    assert 0.15 * len(tickets) < len(misspelt) < 0.5 * len(tickets)


def test_it_has_ambiguous_tickets_of_every_label(train):
    ambiguous = [t for t in train if t.ambiguous]
    assert 0.1 * len(train) < len(ambiguous) < 0.4 * len(train)
    assert {t.label for t in ambiguous} == set(LABELS)
    assert all("mixed" in t.template_id or "+aside." in t.template_id for t in ambiguous)


def test_it_labels_a_mixed_ticket_by_its_request():
    tickets = generate_tickets(400, seed=0)
    downtime = [t for t in tickets if t.template_id == "billing.mixed.t0"]
    assert downtime and all(t.label == "billing" for t in downtime)
    assert all("refund" in t.reply.lower() or "credited" in t.reply.lower() for t in downtime)


def test_its_replies_are_short_and_only_use_what_the_ticket_said(train):
    for t in train[:500]:
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", t.reply) if s]
        assert 1 <= len(sentences) <= 4, t.reply  # a greeting like "Hi Anna," rides on the first
        assert "{" not in t.reply and "{" not in t.text
        for order in re.findall(r"(?:#A\d{5}|ORD-\d{5}|\b\d{4}-\d{4}\b)", t.reply):
            assert order in t.text or order.lower() in t.text.lower(), (t.text, t.reply)


def test_every_reply_pool_keeps_a_body_without_slots():
    for pools in R.REPLIES.values():
        for key, bodies in pools.items():
            assert any("{" not in b for b in bodies), key


def test_it_renders_the_two_projects_prompts():
    assert triage_prompt("My card was charged twice") == (
        "Classify this support ticket as billing, account, technical or other.\n"
        "Ticket: My card was charged twice\nCategory:"
    )
    assert drafting_prompt("Hi") == "Write a short, polite reply to this support ticket.\nTicket: Hi\nReply:"


def test_it_writes_import_files_in_the_apps_format(tmp_path):
    paths = write_import_files(tmp_path, n_train=20, n_gold=8, seed=0)
    lines = {name: [json.loads(x) for x in path.read_text().splitlines()] for name, path in paths.items()}
    assert len(lines["triage_prompts"]) == 20 and len(lines["drafting_gold"]) == 8
    first = lines["triage_prompts"][0]
    assert set(first) == {"prompt", "metadata"} and first["prompt"].endswith("\nCategory:")
    assert first["metadata"]["category"] in LABELS and first["metadata"]["corpus"] == corpus_fingerprint()
    assert all(set(x) == {"prompt", "label"} and x["label"] in LABELS for x in lines["triage_gold"])
    assert all(set(x) == {"prompt", "reference"} and x["prompt"].endswith("\nReply:") for x in lines["drafting_gold"])
    training = {x["prompt"].split("\nTicket: ")[1] for x in lines["drafting_prompts"]}
    assert not training & {x["prompt"].split("\nTicket: ")[1] for x in lines["drafting_gold"]}


def test_it_refuses_a_bad_split_or_count():
    with pytest.raises(ValueError, match="split"):
        generate_tickets(3, split="test")
    with pytest.raises(ValueError, match="zero or more"):
        generate_tickets(-1)


def test_it_says_when_the_templates_run_out_of_variety(monkeypatch):
    same = Ticket(text="Where is my order?", label="other", reply="Hi, soon.", template_id="other.delivery.t0")
    monkeypatch.setattr(corpus, "_make_ticket", lambda rng, label, split: same)
    with pytest.raises(ValueError, match="ran out of variety at 1"):
        generate_tickets(2)


def test_its_fingerprint_changes_with_a_template(monkeypatch):
    before = corpus_fingerprint()
    monkeypatch.setitem(T.ASIDES["other"], "gold", ["Something new."])
    assert corpus_fingerprint() != before
