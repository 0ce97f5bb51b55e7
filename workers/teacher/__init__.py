"""Teacher engine: one interface (``Teacher``), two backends (``transformers``, ``openai``)."""

from workers.teacher.base import (  # noqa: F401
    CANCEL,
    DEFAULT_DRAWS,
    DEFAULT_TOP_K,
    MAX_DRAWS,
    SOFT_TARGET_KINDS,
    Cancelled,
    ClassifyRequest,
    ClassifyResult,
    GenerationParams,
    GenerationRequest,
    GenerationResult,
    ModelLoadError,
    NextTokenResult,
    RunStats,
    ScoreRequest,
    ScoreResult,
    ServerUnreachableError,
    Teacher,
    TeacherError,
    UnsupportedFeatureError,
    draws_of,
    expand_requests,
)


def load_teacher(spec: dict) -> Teacher:
    """A teacher from a model spec dict.

    ``{"backend": "transformers", "name_or_path": ..., "revision": ..., "device": ...,
    "max_batch_size": ..., "max_batch_tokens": ...}`` or ``{"backend": "openai",
    "base_url": ..., "api_key": ..., "model": ..., "tokenizer": ..., ...}`` (see
    ``openai_backend.OpenAITeacher``).
    """
    spec = dict(spec or {})
    backend = spec.pop("backend", "transformers")
    if backend == "transformers":
        from workers.teacher.hf import HFTeacher

        name = spec.pop("name_or_path", None) or spec.pop("path", None) or spec.pop("name", None)
        if not name:
            raise TeacherError("a transformers teacher needs 'name_or_path'")
        return HFTeacher(name, **spec)
    if backend == "openai":
        from workers.teacher.openai_backend import OpenAITeacher

        return OpenAITeacher(**spec)
    raise TeacherError(f"unknown teacher backend {backend!r}; choose 'transformers' or 'openai'")
