"""Train a distillation job's exact config outside Celery.

    python -m workers.distill run CONFIG.json [--output-dir DIR] [--student PATH]
    accelerate launch --num_processes 2 --cpu -m workers.distill run CONFIG.json

``CONFIG.json`` is the run config a job page (or ``GET .../distillations/<id>/run-config``)
offers, unpacked (see runfile.py). The run writes the same model versions the worker
writes, plus ``run.json`` and ``metrics.jsonl``, into the output directory (default
``out/`` next to the config); ``manage.py register_model <job> <dir>`` records them.
Run again with the same output directory to resume from the last checkpoint.

Exit status 0 whether the run completed, stopped at a gate or stopped by
``--stop-after-steps`` (``run.json`` says which: torchrun treats any other status as a crash
and kills the other processes); 2 for a config or data problem (the message says which).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

from workers.distill.checkpoint import write_json_atomic
from workers.distill.errors import DistillError
from workers.distill.runfile import METRICS_FILE, RESULT_FILE, RESULT_FORMAT, STAGE_FILE, load_run_config


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m workers.distill", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="train a run config (resumes when the output directory has a checkpoint)")
    run.add_argument("config", help="config.json of an unpacked run config")
    run.add_argument("--output-dir", help="where checkpoints and model versions go (default: out/ beside the config)")
    run.add_argument("--student", help="the student's weights (default: the config's, or student/ beside it)")
    run.add_argument("--teacher-tokenizer", help="the teacher's tokenizer, when the config's path is not here")
    run.add_argument(
        "--stop-after-steps",
        type=int,
        default=0,
        help="stop (with a checkpoint) after this many optimizer steps of this launch; run again to resume",
    )
    run.add_argument("--gate-override", help="JSON for a run stopped at a gate, e.g. '{\"force\": true}'")
    return p


class _Writer:
    """The main process's files: one line per progress report and per stage end."""

    def __init__(self, out: Path, main: bool):
        self.out, self.main = out, main

    def _append(self, name: str, record: dict) -> None:
        if not self.main:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        with open(self.out / name, "a") as fh:
            fh.write(json.dumps(record, default=str) + "\n")

    def progress(self, p: dict) -> None:
        self._append(METRICS_FILE, {**p, "at": time.time()})

    def stage_end(self, info: dict) -> None:
        self._append(STAGE_FILE, {**info, "at": time.time()})


def run(args) -> int:
    from workers.distill.recipe import DistillRecipe

    world = int(os.environ.get("WORLD_SIZE", "1"))
    config, doc = load_run_config(
        args.config,
        output_dir=args.output_dir,
        student=args.student,
        teacher_tokenizer=args.teacher_tokenizer,
        num_processes=world,
    )
    out = Path(config.output_dir)
    writer = _Writer(out, main=int(os.environ.get("RANK", "0")) == 0)
    calls = {"n": 0}

    def should_stop() -> bool:
        calls["n"] += 1  # asked once per optimizer step, on every process alike
        return bool(args.stop_after_steps) and calls["n"] > args.stop_after_steps

    recipe = DistillRecipe(
        config,
        on_progress=writer.progress,
        on_stage_end=writer.stage_end,
        on_warning=lambda m: logging.getLogger("workers.distill").warning(m),
        should_stop=should_stop,
    )
    override = json.loads(args.gate_override) if args.gate_override else None
    try:
        recipe.setup()
        result = recipe.train(override)
        main = recipe.accelerator.is_main_process
        processes = recipe.accelerator.num_processes
        state = recipe.accelerator.state
        launch = {"distributed_type": str(state.distributed_type), "backend": state.backend or ""}
    finally:
        recipe.cleanup()
    if main:
        write_json_atomic(
            out / RESULT_FILE,
            {
                "format": RESULT_FORMAT,
                "job": doc.get("job"),
                "project": doc.get("project"),
                "num_processes": processes,
                **launch,
                "batch_size_per_process": config.batch_size,
                "result": result.to_dict(),
                "config": config.summary(),
                "finished_at": time.time(),
            },
        )
        print(
            f"{result.status}: {len(result.stages)} stage(s) trained on {processes} process(es); "
            f"output in {out}"
            + (f"; register with: manage.py register_model {doc['job']} {out}" if doc.get("job") else "")
        )
    return 0


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = _parser().parse_args(argv)
    try:
        return run(args)
    except DistillError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
