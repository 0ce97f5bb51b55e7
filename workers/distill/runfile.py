"""A distillation job's exact config as files, to train it outside Celery.

A *run directory* holds everything a run needs besides the student's weights:

```
config.json              {"format": "distill-run-v1", "job": ..., "config": {...}}
records/00-train.jsonl   one training record per line (workers/distill/data.py), soft
records/00-val.jsonl     targets as a pointer "shards/<file>#<key>" into ...
shards/*.safetensors     ... the run's own soft-target shards
```

``config`` is ``DistillConfig``'s fields, with each stage's ``records`` / ``val_records``
the relative path of its JSONL file (``null``: no gate). ``output_dir`` and ``student``
are relative to the run directory when they are not absolute (the product exports the
student's files under ``student/`` when it has them on disk).

What a finished run leaves in its output directory, for ``manage.py register_model``:
the model versions the recipe saves (``stages/NN-<name>/``, ``final/``), ``run.json``
(the result, the process count, the config) and ``metrics.jsonl`` (every progress report,
as the job page plots them). Only the main process writes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from workers.distill.config import DistillConfig
from workers.distill.errors import DistillError
from workers.softtargets import ShardWriter, SoftTargetError, SoftTargets, read_soft_targets

RUN_FORMAT = "distill-run-v1"
RESULT_FORMAT = "distill-result-v1"
CONFIG_FILE = "config.json"
RESULT_FILE = "run.json"
METRICS_FILE = "metrics.jsonl"
STAGE_FILE = "stage_ends.jsonl"


def _soft_to_targets(soft: dict) -> SoftTargets:
    t = len(soft["response_ids"])
    if soft.get("sample_ids") is not None:
        none = np.zeros((t, 0))
        return SoftTargets(
            token_ids=np.asarray(soft["response_ids"]),
            topk_ids=none,
            topk_logprobs=none,
            tail_logprob=np.zeros(t),
            sample_ids=np.asarray(soft["sample_ids"]),
            sample_logw=np.asarray(soft["sample_logw"]),
        )
    return SoftTargets(
        token_ids=np.asarray(soft["response_ids"]),
        topk_ids=np.asarray(soft["topk_ids"]),
        topk_logprobs=np.asarray(soft["topk_logprobs"]),
        tail_logprob=np.asarray(soft["tail_logprob"]),
    )


def _write_records(path: Path, records: Iterable[dict], shards: ShardWriter, key_prefix: str) -> int:
    """Soft targets go into the run's shards (one per records file), the rest into JSONL."""
    rows, keys = [], []
    for i, record in enumerate(records):
        out = dict(record)
        soft = out.pop("soft", None)
        key = None
        if soft is not None:
            key = f"{key_prefix}.{i}"
            shards.add(key, _soft_to_targets(soft))
        rows.append(out)
        keys.append(key)
    pointers = shards.flush()
    with open(path, "w") as fh:
        for out, key in zip(rows, keys):
            if key is not None:
                out["soft"] = pointers[key]
            fh.write(json.dumps(out, ensure_ascii=False, default=_json_default) + "\n")
    return len(rows)


def _json_default(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to a run file")


def write_run_dir(
    out_dir: str | Path,
    config: dict,
    stage_records: Sequence[tuple[Iterable[dict], Iterable[dict] | None]],
    *,
    job: int | None = None,
    extra: dict | None = None,
) -> Path:
    """Write ``config`` (``DistillConfig`` fields without records) and each stage's
    (train, validation) records as a run directory; return its ``config.json``."""
    out = Path(out_dir)
    (out / "records").mkdir(parents=True, exist_ok=True)
    shards = ShardWriter(out, "run")
    cfg = json.loads(json.dumps(config, default=str))
    if len(cfg.get("stages", [])) != len(stage_records):
        raise DistillError("one (train, validation) pair of records is needed per stage")
    for i, (stage, (train, val)) in enumerate(zip(cfg["stages"], stage_records)):
        rel = f"records/{i:02d}-train.jsonl"
        _write_records(out / rel, train, shards, f"s{i}.t")
        stage["records"] = rel
        if val is not None:
            rel_val = f"records/{i:02d}-val.jsonl"
            _write_records(out / rel_val, val, shards, f"s{i}.v")
            stage["val_records"] = rel_val
        else:
            stage["val_records"] = None
    doc = {"format": RUN_FORMAT, "job": job, "config": cfg, **(extra or {})}
    path = out / CONFIG_FILE
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    return path


def soft_record(st: SoftTargets) -> dict:
    """A record's ``soft`` (workers/distill/data.py) from stored soft targets: top-k or sampled."""
    if st.sample_ids is not None:
        return {"response_ids": st.token_ids, "sample_ids": st.sample_ids, "sample_logw": st.sample_logw}
    return {
        "response_ids": st.token_ids,
        "topk_ids": st.topk_ids,
        "topk_logprobs": st.topk_logprobs,
        "tail_logprob": st.tail_logprob,
    }


def read_records(root: Path, rel: str) -> list[dict]:
    """One records file of a run directory, soft targets read (memory-mapped) from its shards."""
    path = root / rel
    if not path.is_file():
        raise DistillError(f"the run directory has no records file {rel!r}")
    out = []
    with open(path) as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise DistillError(f"{rel}, line {n}: not JSON ({exc})") from None
            pointer = record.get("soft")
            if isinstance(pointer, str):
                try:
                    st = read_soft_targets(root, pointer)
                except SoftTargetError as exc:
                    raise DistillError(f"{rel}, line {n}: {exc}") from None
                record["soft"] = soft_record(st)
            out.append(record)
    return out


def load_run_config(
    config_path: str | Path,
    *,
    output_dir: str | None = None,
    student: str | None = None,
    teacher_tokenizer: str | None = None,
    num_processes: int = 1,
) -> tuple[DistillConfig, dict]:
    """The ``DistillConfig`` a run directory describes (records load lazily), and its document.

    ``batch_size`` in the file is the job's batch per optimizer micro-step over all processes
    (what one process trained with); under ``num_processes`` each process takes its share,
    so one or many processes see the same samples in the same steps.
    """
    path = Path(config_path)
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DistillError(f"cannot read the run config {path}: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != RUN_FORMAT:
        raise DistillError(f"{path} is not a run config (format {RUN_FORMAT!r} expected)")
    root = path.resolve().parent
    cfg = dict(doc["config"])
    cfg["output_dir"] = str(_resolve(root, output_dir or cfg.get("output_dir") or "out"))
    if student:
        cfg["student"] = student
    elif cfg.get("student") and (root / cfg["student"]).exists():
        cfg["student"] = str(root / cfg["student"])
    if teacher_tokenizer:
        cfg["teacher_tokenizer"] = teacher_tokenizer
    batch = int(cfg.get("batch_size", 8))
    if num_processes > 1:
        if batch % num_processes:
            raise DistillError(
                f"batch_size {batch} does not split over {num_processes} processes; launch a number of processes "
                f"that divides it, or change batch_size in {path.name}",
                "batch_size",
            )
        cfg["batch_size"] = batch // num_processes
    stages = []
    for stage in cfg.get("stages", []):
        s = dict(stage)
        s["records"] = _loader(root, s.get("records"))
        s["val_records"] = _loader(root, s["val_records"]) if s.get("val_records") else None
        stages.append(s)
    cfg["stages"] = stages
    return DistillConfig.from_dict(cfg), doc


def _resolve(root: Path, value: str) -> Path:
    p = Path(value)
    return p if p.is_absolute() else root / p


def _loader(root: Path, rel):
    if not isinstance(rel, str) or not rel:
        raise DistillError("every stage of a run config names its records file")
    return lambda: read_records(root, rel)
