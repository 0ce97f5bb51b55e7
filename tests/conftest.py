import pytest

from tests.tinymodels import build_tiny_model


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A tiny GPT-2-style teacher (and tokenizer) saved with save_pretrained."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def tiny_student_dir(tmp_path_factory):
    """A smaller student sharing ``tiny_model_dir``'s tokenizer (same corpus, same vocab)."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-student"), n_layer=1, n_embd=32, seed=1)
