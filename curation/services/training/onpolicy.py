"""The launch rules of on-policy stages (``stages.<i>.on_policy``): their settings, and a teacher
that answers now.

An on-policy stage calls the teacher while it trains (workers/distill/onpolicy.py), so a launch
checks the teacher spec first, with the check the core offers (``teacher_problem``: a local
path whose config and tokenizer load; a server that scores a test text), and that teacher and
student share a tokenizer; a problem is a field error on ``teacher_spec``. The job freezes the
teacher it checked (``params["on_policy_teacher"]``, the key by its variable's name only), so a
spec edited later does not change a running job. That classification has no on-policy stage is
the core's rule (``DistillConfig``), reached through ``build_config``.
"""

from __future__ import annotations

from dataclasses import fields

from curation.models import ModelSpec, Project
from curation.services.errors import Invalid
from curation.services.inputs import parse_number
from curation.services.modelspecs import key_free_spec, load_spec, teacher_config
from workers.distill.config import OnPolicyConfig

ON_POLICY_DEFAULTS = {f.name: f.default for f in fields(OnPolicyConfig)}
WHOLE = ("max_new_tokens", "top_k")


def parse_on_policy(raw, field: str, errors: Invalid) -> dict | None:
    """A stage's on-policy settings with their defaults; None (or nothing) leaves the stage off-policy."""
    if raw in (None, "", {}, False):
        return None
    if not isinstance(raw, dict):
        errors.add(field, f"on-policy settings are an object {{{', '.join(ON_POLICY_DEFAULTS)}}}")
        return None
    for key in sorted(set(raw) - set(ON_POLICY_DEFAULTS)):
        errors.add(f"{field}.{key}", "unknown on-policy setting")
    return {
        key: parse_number(raw.get(key), f"{field}.{key}", errors, kind=int if key in WHOLE else float, default=default)
        for key, default in ON_POLICY_DEFAULTS.items()
    }


def check_on_policy(
    project: Project, stages: list[dict], teacher: ModelSpec | None, student, errors, *, teacher_tokenizer: str | None
) -> dict | None:
    """The teacher config an on-policy job freezes, or None; adds what stops it to ``errors``.
    ``teacher_tokenizer``: what the job compares with the student's (``request.teacher_tokenizer_of``)."""
    named = [s.get("name") or f"stage {i + 1}" for i, s in enumerate(stages) if s.get("on_policy")]
    if not named or teacher is None or project.task_type != Project.TaskType.GENERATION:
        return None
    from workers.distill.onpolicy import teacher_problem

    frozen = teacher_config(teacher)
    which = f"stage {named[0]!r} is on-policy, so the teacher scores the student's samples while it trains"
    try:
        live = load_spec(frozen)
    except Invalid:  # the key's variable is set for the worker, not here: check without it
        live = load_spec({**frozen, "api_key_env": ""})
    problem = teacher_problem(live)
    if problem:
        errors.add("teacher_spec", f"{which}, and {teacher.name!r} cannot be reached now: {problem}")
        return None
    mismatch = _tokenizer_mismatch(teacher, teacher_tokenizer, student)
    if mismatch:
        errors.add("teacher_spec", f"{which}, token by token: {mismatch}")
        return None
    return frozen


def _tokenizer_mismatch(teacher: ModelSpec, theirs: str | None, student) -> str | None:
    from transformers import AutoTokenizer

    from workers.distill.data import tokenizers_compatible, vocab_hash

    if theirs is None:
        return f"{teacher.name!r} names no tokenizer to compare with the student's; give its tokenizer path"
    if student is None:
        return None
    try:
        ours = AutoTokenizer.from_pretrained(student.path)
        if theirs.startswith("sha256:"):
            same = theirs == vocab_hash(ours)
        else:
            same = tokenizers_compatible(AutoTokenizer.from_pretrained(theirs), ours)
    except (OSError, ValueError) as exc:
        return f"the tokenizers could not be compared: {exc}"
    return None if same else f"{teacher.name!r} and the student tokenize differently (vocabulary or ids)"


def core_teacher(params: dict) -> dict | None:
    """The core's ``DistillConfig.teacher`` for a job's params (None without on-policy stages)."""
    frozen = params.get("on_policy_teacher")
    return key_free_spec(frozen) if frozen else None
