"""Semantic similarity (all-MiniLM-L6-v2 from its package, usearch) and PII detection/redaction (Presidio)."""

import numpy as np
import pytest

from workers.hygiene import pii
from workers.hygiene.semantic import SemanticIndex, embedder


@pytest.fixture(scope="module")
def semantic():
    index = SemanticIndex(0.85)
    index.add_many(
        [11, 12, 13],
        [
            "How do I reset my password for the billing portal?",
            "Write a short poem about autumn leaves.",
            "What is the capital of Australia?",
        ],
    )
    return index


def test_embeddings_are_unit_length_mean_pooled_and_order_independent():
    enc = embedder()
    texts = ["a short one", "a much longer sentence about the weather in spring and summer"]
    both = enc.encode(texts)
    assert both.shape == (2, 384) and np.allclose(np.linalg.norm(both, axis=1), 1.0, atol=1e-5)
    assert np.allclose(enc.encode(texts[::-1])[::-1], both, atol=1e-5)  # padding does not change a vector


def test_a_paraphrase_is_a_semantic_duplicate_and_a_different_request_on_the_same_topic_is_not(semantic):
    found = semantic.query_many(
        [
            "I forgot my billing portal password, how can I reset it?",
            "How do I delete my account on the billing portal?",
            "What is the capital city of Australia?",
            "What's the population of Canada?",
        ]
    )
    assert found[0] is not None and found[0].key == 11 and found[0].similarity >= 0.85
    assert found[1] is None
    assert found[2] is not None and found[2].key == 13
    assert found[3] is None


TEXT = (
    "Hi, mail me at jo.smith@example.com or call +1 415-555-0132. "
    "Card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00, from 10.20.30.40."
)


def test_pattern_recognizers_find_typed_spans_without_a_language_model():
    spans = pii.detect(TEXT)
    kinds = {s["entity"] for s in spans}
    assert {"EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS"} <= kinds
    email = next(s for s in spans if s["entity"] == "EMAIL_ADDRESS")
    assert TEXT[email["start"] : email["end"]] == "jo.smith@example.com"
    assert pii.detect("Order 12345 arrived broken; I paid 45 dollars.") == []


def test_redaction_replaces_every_span_with_its_typed_placeholder():
    text, messages = pii.redact(TEXT, None, pii.detect(TEXT))
    assert messages is None
    assert "<EMAIL>" in text and "<PHONE>" in text and "<CARD>" in text and "<IBAN>" in text and "<IP>" in text
    for value in ("jo.smith", "415-555", "4111", "DE89", "10.20.30.40"):
        assert value not in text


def test_chat_messages_are_checked_and_redacted_one_by_one():
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Write to a@b.org please"}]
    spans = pii.detect("", chat)
    assert [(s["part"], s["entity"]) for s in spans] == [(1, "EMAIL_ADDRESS")]
    _, redacted = pii.redact("", chat, spans)
    assert redacted == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Write to <EMAIL> please"},
    ]


def test_a_reviewers_decision_overrides_the_detector():
    text = "Ticket from jo@example.com about build 10.0.0.1"
    spans = pii.detect(text)
    ip = next(s for s in spans if s["entity"] == "IP_ADDRESS")
    not_pii = {**ip, "is_pii": False}
    name = {"part": -1, "start": 0, "end": 6, "entity": "PERSON", "is_pii": True}
    effective = pii.effective_spans(spans, [not_pii, name])
    assert {s["entity"] for s in effective} == {"EMAIL_ADDRESS", "PERSON"}
    redacted, _ = pii.redact(text, None, effective)
    assert redacted == "<NAME> from <EMAIL> about build 10.0.0.1"
