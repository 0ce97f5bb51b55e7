"""The model spec check: read a model's config and tokenizer, or ask a server what it offers."""

import pytest

from tests.workers.openai_server import TinyModelServer
from workers.teacher.probe import probe

pytestmark = pytest.mark.slow


def test_a_local_model_is_read_without_loading_its_weights(tiny_model_dir):
    report = probe({"backend": "transformers", "name_or_path": str(tiny_model_dir)})
    assert report.ok and "model type gpt2" in report.details and "context 256 tokens" in report.details


def test_a_folder_without_a_model_says_so(tmp_path):
    report = probe({"backend": "transformers", "name_or_path": str(tmp_path)})
    assert not report.ok and report.summary.startswith("cannot read the model config")


def test_a_server_reports_logprobs_and_prompt_logprobs(tiny_model_dir):
    with TinyModelServer(tiny_model_dir, api_key="sk-probe") as server:
        report = probe(
            {
                "backend": "openai",
                "base_url": server.url,
                "model": "tiny",
                "api_key": "sk-probe",
                "tokenizer": str(tiny_model_dir),
            }
        )
        refused = probe({"backend": "openai", "base_url": server.url, "model": "tiny", "api_key": "sk-wrong"})
    assert report.ok and "prompt log-probabilities (scoring, classification): yes" in report.details
    assert "tokenizer" in report.details[-1] and "vocabulary 400" in report.details[-1]
    assert not refused.ok and "refused the API key (HTTP 401)" in refused.summary and "sk-wrong" not in refused.summary


def test_a_server_without_prompt_logprobs_is_usable_for_generation_only(tiny_model_dir):
    with TinyModelServer(tiny_model_dir, prompt_logprobs=False) as server:
        report = probe({"backend": "openai", "base_url": server.url, "model": "tiny"})
    assert report.ok and "prompt log-probabilities (scoring, classification): no" in report.details
    assert any("no tokenizer" in d for d in report.details)
