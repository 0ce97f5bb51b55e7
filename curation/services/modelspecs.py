"""Model specs: validating what engineers register, and turning a spec into a teacher.

A spec names its API key by environment variable (``api_key_env``), never the key
itself: the key is read from the environment of the process that talks to the
server (the worker for a job, the web server for the "check" button), so it never
passes through a page, the database or a job's parameters.

A job freezes its teacher at launch (``teacher_config``), so a resumed job uses the
model it started with even if someone edits the spec meanwhile.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict

from curation.models import ModelSpec
from curation.services.errors import Invalid
from curation.services.inputs import parse_number, to_number
from curation.services.recipes import check_distill_defaults
from workers.teacher import MAX_DRAWS, SOFT_TARGET_KINDS, GenerationParams

ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
MAX_N = 64
MAX_TOP_K = 1000
MAX_NEW_TOKENS = 32_768
MAX_STOPS = 16

OPTIONS = {
    ModelSpec.Backend.TRANSFORMERS: {
        "device": (str, None),
        "dtype": (str, ("auto", "float32", "float16", "bfloat16")),
        "max_batch_size": (int, (1, 4096)),
        "max_batch_tokens": (int, (64, 10**8)),
        "num_threads": (int, (1, 512)),
    },
    ModelSpec.Backend.OPENAI: {
        "endpoint": (str, ("completions", "chat")),
        "timeout": (float, (1, 3600)),
        "concurrency": (int, (1, 256)),
        "batch_size": (int, (1, 4096)),
        "token_ids_in_response": (bool, None),
        "prompts_per_request": (int, (1, 256)),
        "max_retries": (int, (0, 20)),
        "max_logprobs": (int, (1, MAX_TOP_K)),
    },
}


# ----------------------------------------------------------- generation params
def check_generation_params(data: dict) -> tuple[dict, Invalid]:
    """(cleaned, errors) for generation settings given as a dict (possibly partial)."""
    cleaned, errors = {}, Invalid()
    if not isinstance(data, dict):
        errors.add("params", "must be an object of generation settings")
        return {}, errors
    unknown = sorted(set(data) - set(GenerationParams.__dataclass_fields__))
    if unknown:
        errors.add(
            "params",
            f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(GenerationParams.__dataclass_fields__)}",
        )
    ranges = {
        "n": (int, 1, MAX_N),
        "temperature": (float, 0.0, 10.0),
        "top_p": (float, 0.0, 1.0),
        "max_new_tokens": (int, 1, MAX_NEW_TOKENS),
        "min_new_tokens": (int, 0, MAX_NEW_TOKENS),
        "seed": (int, 0, 2**63 - 1),
        "top_k": (int, 1, MAX_TOP_K),
    }
    for name, (kind, lo, hi) in ranges.items():
        if name in data and data[name] not in (None, ""):
            value = parse_number(data[name], name, errors, kind=kind, minimum=lo, maximum=hi, label="")
            if value is not None:
                cleaned[name] = value
    if cleaned.get("top_p") == 0:
        errors.add("top_p", "must be above 0 (and at most 1)")
    cleaned.update(check_soft_target_choice(data, errors))
    if "stop" in data and data["stop"] not in (None, ""):
        stop = data["stop"]
        stop = [stop] if isinstance(stop, str) else stop
        if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
            errors.add("stop", "must be a list of strings")
        elif len(stop) > MAX_STOPS or any(len(s) > 200 for s in stop):
            errors.add("stop", f"at most {MAX_STOPS} stop strings of at most 200 characters")
        else:
            cleaned["stop"] = [s for s in stop if s]
    return cleaned, errors


def check_soft_target_choice(data: dict, errors: Invalid, spec: ModelSpec | None = None) -> dict:
    """The one check of what a teacher job stores per token (generation and scoring, form and API):
    ``soft_targets`` "topk" (the top-k and a tail bucket) or "sampled" (RS-KD: ``draws`` tokens
    importance-sampled from the teacher's whole distribution, 12 by default), which only a local
    teacher can give: a server returns its top log-probabilities only."""
    cleaned = {}
    kind = data.get("soft_targets")
    if kind not in (None, ""):
        if kind not in SOFT_TARGET_KINDS:
            errors.add("soft_targets", f"choose one of {', '.join(SOFT_TARGET_KINDS)}")
        else:
            cleaned["soft_targets"] = kind
    if data.get("draws") not in (None, ""):
        draws = parse_number(data["draws"], "draws", errors, kind=int, minimum=1, maximum=MAX_DRAWS, label="")
        if draws is not None:
            cleaned["draws"] = draws
    if spec is not None and cleaned.get("soft_targets") == "sampled" and spec.backend == ModelSpec.Backend.OPENAI:
        errors.add(
            "soft_targets",
            "sampled soft targets draw tokens from the teacher's whole distribution, and a teacher server "
            "returns only its top log-probabilities: choose top-k, or a local (transformers) teacher",
        )
    return cleaned


def generation_defaults(defaults) -> dict:
    """A spec's default generation settings: its defaults without the student's "distill" recipe."""
    return {k: v for k, v in defaults.items() if k != "distill"} if isinstance(defaults, dict) else defaults


def resolve_generation_params(spec: ModelSpec | None, given: dict, *, classification: bool = False) -> dict:
    """Defaults <- the spec's defaults <- ``given``; ``Invalid`` names bad fields."""
    given = dict(given or {})
    spec_defaults, spec_errors = check_generation_params(generation_defaults(spec.defaults if spec is not None else {}))
    if spec_errors:
        raise Invalid(
            {
                "model_spec": [
                    f"the spec's default settings are invalid ({spec_errors}); fix them on the Model specs page"
                ]
            }
        )
    cleaned, errors = check_generation_params(given)
    kind = {**spec_defaults, **cleaned}.get("soft_targets", "topk")
    check_soft_target_choice({"soft_targets": kind}, errors, spec)
    if classification and kind != "topk":
        errors.add("soft_targets", "a classification project keeps the label distribution, not token soft targets")
    if classification and cleaned.get("n", 1) != 1:
        errors.add("n", "a classification project gets one label distribution per prompt; use n = 1")
    errors.raise_if_any()
    merged = {**asdict(GenerationParams()), **spec_defaults, **cleaned}
    if classification:
        merged["n"] = 1
    if merged["min_new_tokens"] > merged["max_new_tokens"]:
        field = "min_new_tokens" if "min_new_tokens" in cleaned else "max_new_tokens"
        raise Invalid(
            {
                field: [
                    f"min_new_tokens ({merged['min_new_tokens']}) must not exceed "
                    f"max_new_tokens ({merged['max_new_tokens']})"
                ]
            }
        )
    try:
        return asdict(GenerationParams.from_dict(merged))
    except ValueError as exc:
        raise Invalid({"params": [str(exc)]}) from None


# ------------------------------------------------------------------ spec fields
def check_options(backend: str, options) -> list[str]:
    if not isinstance(options, dict):
        return ["must be a JSON object"]
    allowed = OPTIONS.get(backend, {})
    problems = []
    for key, value in options.items():
        if key not in allowed:
            problems.append(f"unknown option {key!r} for the {backend} backend; known: {', '.join(allowed)}")
            continue
        kind, rule = allowed[key]
        ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if not ok:
            problems.append(f"{key} must be {kind.__name__}")
        elif isinstance(rule, tuple) and kind is str and value not in rule:
            problems.append(f"{key} must be one of {', '.join(rule)}")
        elif isinstance(rule, tuple) and kind is not str and not rule[0] <= value <= rule[1]:
            problems.append(f"{key} must be between {rule[0]} and {rule[1]}")
    return problems


def check_spec_fields(backend: str, path: str, base_url: str, api_key_env: str, defaults, options) -> Invalid:
    """What is wrong with a spec's fields, by field (empty when nothing is)."""
    errors = Invalid()
    if not (path or "").strip():
        errors.add(
            "path",
            "give the local path or hub name"
            if backend == ModelSpec.Backend.TRANSFORMERS
            else "give the model name the server serves (its 'model' field)",
        )
    if backend == ModelSpec.Backend.OPENAI:
        if not base_url:
            errors.add("base_url", "an OpenAI-compatible server needs its base URL, e.g. http://vllm:8000/v1")
        elif not base_url.startswith(("http://", "https://")):
            errors.add("base_url", "must start with http:// or https://")
        elif "@" in base_url.split("//", 1)[1].split("/", 1)[0]:
            errors.add(
                "base_url",
                "must not contain credentials; put the API key in an environment variable "
                "and name it in 'API key variable'",
            )
    if api_key_env and not ENV_NAME_RE.match(api_key_env):
        errors.add(
            "api_key_env", "must be the NAME of an environment variable (like VLLM_API_KEY), never the key itself"
        )
    if not isinstance(defaults, dict):
        errors.add("defaults", "must be a JSON object of generation settings")
    else:
        _, problems = check_generation_params(generation_defaults(defaults))
        messages = [f"{field}: {message}" for field, message in problems.flat()]
        if "distill" in defaults:
            messages += check_distill_defaults(defaults["distill"])
        for message in messages:
            errors.add("defaults", message)
    for problem in check_options(backend, options):
        errors.add("options", problem)
    return errors


PRICE_KEYS = ("per_1k_input", "per_1k_output", "per_hour")


def check_pricing(pricing) -> list[str]:
    """Problems with a spec's prices (empty when none): an object of non-negative numbers."""
    if not isinstance(pricing, dict):
        return ['must be a JSON object, e.g. {"per_1k_input": 0.5, "per_1k_output": 1.5} or {"per_hour": 2.0}']
    problems = [f"unknown key {k!r}; use {', '.join(PRICE_KEYS)}" for k in pricing if k not in PRICE_KEYS]
    for key in PRICE_KEYS:
        if key in pricing:
            try:
                value = to_number(pricing[key])
            except ValueError:
                problems.append(f"{key}: a number, got {str(pricing[key])[:30]!r}")
                continue
            if not 0 <= value < 1e9:
                problems.append(f"{key}: from 0 up, got {value}")
    return problems


def request_costs(pricing: dict, input_tokens, output_tokens, latency_s) -> list[float] | None:
    """Each request's cost under ``pricing`` (None when the spec has no prices)."""
    if not pricing:
        return None
    p_in, p_out, p_hour = (float(pricing.get(k) or 0) for k in PRICE_KEYS)
    return [
        i / 1000 * p_in + o / 1000 * p_out + s / 3600 * p_hour
        for i, o, s in zip(input_tokens, output_tokens, latency_s)
    ]


# --------------------------------------------------------------- to a teacher
def teacher_config(spec: ModelSpec) -> dict:
    """What a job records about its teacher at launch (no key: only the variable's name)."""
    return {
        "spec_id": spec.pk,
        "name": spec.name,
        "backend": spec.backend,
        "path": spec.path,
        "revision": spec.revision,
        "base_url": spec.base_url,
        "api_key_env": spec.api_key_env,
        "tokenizer_path": spec.tokenizer_path,
        "options": dict(spec.options or {}),
    }


def load_spec(config: dict, environ=None) -> dict:
    """The ``load_teacher`` dict for a frozen teacher config; reads the API key from ``environ``."""
    environ = os.environ if environ is None else environ
    options = dict(config.get("options") or {})
    if config["backend"] == ModelSpec.Backend.TRANSFORMERS:
        return {
            "backend": "transformers",
            "name_or_path": config["path"],
            "revision": config.get("revision") or None,
            **options,
        }
    api_key = None
    if config.get("api_key_env"):
        api_key = environ.get(config["api_key_env"])
        if not api_key:
            raise Invalid(
                {
                    "model_spec": [
                        f"model spec {config.get('name')!r} takes its API key from the environment variable "
                        f"{config['api_key_env']}, which is not set for this process"
                    ]
                }
            )
    return {
        "backend": "openai",
        "base_url": config["base_url"],
        "model": config["path"],
        "api_key": api_key,
        "tokenizer": config.get("tokenizer_path") or None,
        **options,
    }


def key_free_spec(config: dict) -> dict:
    """``load_spec`` for a process that reads the key itself: the key's variable name
    (``api_key_env``) instead of the key, so the dict may enter a run config or a checkpoint."""
    spec = load_spec({**config, "api_key_env": ""})
    spec.pop("api_key", None)
    if config["backend"] == ModelSpec.Backend.OPENAI and config.get("api_key_env"):
        spec["api_key_env"] = config["api_key_env"]
    return spec


def probe_spec(spec: ModelSpec):
    """Check from the web server that the spec's model (or server) can be read."""
    from workers.teacher.probe import ProbeReport, probe

    config = teacher_config(spec)
    try:
        load = load_spec(config)
    except Invalid as exc:
        if config["backend"] != ModelSpec.Backend.OPENAI:
            return ProbeReport(False, str(exc))
        load = load_spec({**config, "api_key_env": ""})
        report = probe(load)
        report.details.insert(0, f"{config['api_key_env']} is not set on the web server: checked without an API key")
        return report
    return probe(load)


DEFAULT_LABELS = {
    "n": "Samples per prompt",
    "temperature": "Temperature",
    "top_p": "Top-p",
    "max_new_tokens": "Max new tokens",
    "min_new_tokens": "Min new tokens",
    "stop": "Stop strings",
    "seed": "Seed",
    "top_k": "Soft-target width (top-k)",
    "distill": "Distillation",
}


def describe_defaults(defaults: dict | None) -> list[tuple[str, str]]:
    """A spec's defaults as (label, value) pairs for a definition list: stop strings quoted
    so a newline shows as ``\\n``, nested settings (``distill``) as ``key: value`` pairs."""

    def show(value) -> str:
        if isinstance(value, dict):
            return "; ".join(f"{k.replace('_', ' ')}: {show(v)}" for k, v in sorted(value.items())) or "–"
        if isinstance(value, (list, tuple)):
            return ", ".join(repr(v) if isinstance(v, str) else show(v) for v in value) or "none"
        if isinstance(value, bool):
            return "yes" if value else "no"
        return str(value)

    order = {key: i for i, key in enumerate(DEFAULT_LABELS)}  # the launch form's order
    return [
        (DEFAULT_LABELS.get(key, key.replace("_", " ").capitalize()), show(value))
        for key, value in sorted((defaults or {}).items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))
    ]
