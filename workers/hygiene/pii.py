"""Personal data in prompts: Presidio's analyzer finds it, Presidio's anonymizer replaces it.

No spaCy model can be downloaded here, so the analyzer runs on Presidio's ``NoOpNlpEngine`` (no
model, no tokens) with pattern recognizers only: e-mail addresses, phone numbers (the
``phonenumbers`` library), credit cards (Luhn-checked), IBANs (checksum), IP addresses and US
social security numbers. Names and addresses need a NER model and are not detected. The e-mail
recognizer validates the domain with ``tldextract``; ours uses tldextract's bundled suffix list
(no network fetch). Replacement is the anonymizer's ``replace`` operator with a typed placeholder
(``<EMAIL>``, ``<PHONE>``, ``<CARD>``...).

A span is ``{"part", "start", "end", "entity", "score"}``: ``part`` -1 for a plain prompt, else the
index of the chat message whose ``content`` it is in. A reviewer's decision on a span
(``{"part", "start", "end", "entity", "is_pii"}``) overrides the detector: "not PII" drops a
detected span, "PII" adds one the detector missed. Nothing here logs or returns a span's value.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

PLACEHOLDERS = {
    "EMAIL_ADDRESS": "<EMAIL>",
    "PHONE_NUMBER": "<PHONE>",
    "CREDIT_CARD": "<CARD>",
    "IBAN_CODE": "<IBAN>",
    "IP_ADDRESS": "<IP>",
    "US_SSN": "<SSN>",
    "PERSON": "<NAME>",
    "OTHER": "<PII>",
}
ENTITIES = [e for e in PLACEHOLDERS if e not in ("PERSON", "OTHER")]
MIN_SCORE = 0.4  # Presidio's pattern scores: phone numbers 0.4, e-mails and validated cards 1.0

_lock = threading.Lock()
_engines: dict[str, object] = {}


def _analyzer():
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NoOpNlpEngine
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        UsSsnRecognizer,
    )

    class OfflineEmailRecognizer(EmailRecognizer):
        _extract = None

        def validate_result(self, pattern_text: str):
            import tldextract

            if OfflineEmailRecognizer._extract is None:
                OfflineEmailRecognizer._extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
            return OfflineEmailRecognizer._extract(pattern_text).fqdn != ""

    registry = RecognizerRegistry(supported_languages=["en"])
    for recognizer in (
        OfflineEmailRecognizer(),
        PhoneRecognizer(),
        CreditCardRecognizer(),
        IbanRecognizer(),
        IpRecognizer(),
        UsSsnRecognizer(),
    ):
        registry.add_recognizer(recognizer)
    nlp = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
    return AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["en"])


def engines():
    """(analyzer, anonymizer), built once per process."""
    with _lock:
        if not _engines:
            from presidio_anonymizer import AnonymizerEngine

            _engines["analyzer"] = _analyzer()
            _engines["anonymizer"] = AnonymizerEngine()
        return _engines["analyzer"], _engines["anonymizer"]


def _parts(text: str, messages: list | None) -> list[tuple[int, str]]:
    if messages:
        return [(i, str(m.get("content", ""))) for i, m in enumerate(messages)]
    return [(-1, text or "")]


def detect(text: str = "", messages: list | None = None) -> list[dict]:
    """Spans of personal data in a prompt (its text, or each chat message's content)."""
    analyzer, _ = engines()
    spans = []
    for part, content in _parts(text, messages):
        if not content:
            continue
        results = analyzer.analyze(text=content, language="en", entities=ENTITIES, score_threshold=MIN_SCORE)
        for r in _without_overlaps(results):
            spans.append(
                {"part": part, "start": r.start, "end": r.end, "entity": r.entity_type, "score": round(r.score, 2)}
            )
    return sorted(spans, key=lambda s: (s["part"], s["start"]))


def _without_overlaps(results):
    """Of overlapping results keep the highest-scoring (then the longest): one placeholder per stretch."""
    kept = []
    for r in sorted(results, key=lambda r: (-r.score, -(r.end - r.start), r.start)):
        if all(r.end <= k.start or r.start >= k.end for k in kept):
            kept.append(r)
    return sorted(kept, key=lambda r: r.start)


def _key(span: dict) -> tuple:
    return (span["part"], span["start"], span["end"])


def effective_spans(detected: Iterable[dict], decisions: Iterable[dict]) -> list[dict]:
    """The detector's spans with reviewers' decisions applied (the last decision on a span wins)."""
    verdict = {}
    for d in decisions:
        verdict[_key(d)] = d
    spans = {_key(s): s for s in detected if verdict.get(_key(s), {}).get("is_pii", True)}
    for key, d in verdict.items():
        if d.get("is_pii") and key not in spans:
            spans[key] = {"part": d["part"], "start": d["start"], "end": d["end"], "entity": d["entity"], "score": 1.0}
    return sorted(spans.values(), key=lambda s: (s["part"], s["start"]))


def placeholder(entity: str) -> str:
    return PLACEHOLDERS.get(entity, PLACEHOLDERS["OTHER"])


def redact(text: str, messages: list | None, spans: list[dict]) -> tuple[str, list | None]:
    """(text, messages) with every span replaced by its typed placeholder (Presidio's anonymizer)."""
    from presidio_anonymizer.entities import OperatorConfig, RecognizerResult

    _, anonymizer = engines()

    def one(content: str, part: int) -> str:
        mine = [s for s in spans if s["part"] == part and 0 <= s["start"] < s["end"] <= len(content)]
        if not mine:
            return content
        results = [RecognizerResult(s["entity"], s["start"], s["end"], 1.0) for s in mine]
        operators = {s["entity"]: OperatorConfig("replace", {"new_value": placeholder(s["entity"])}) for s in mine}
        return anonymizer.anonymize(text=content, analyzer_results=results, operators=operators).text

    if messages:
        return text, [{**m, "content": one(str(m.get("content", "")), i)} for i, m in enumerate(messages)]
    return one(text or "", -1), messages
