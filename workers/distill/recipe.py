"""The staged distillation recipe: config in, ``setup()``, ``train()``, ``cleanup()``.

Stages run in order. Each stage trains on its records plus a replay sample of earlier
stages, with a fresh optimizer and linear warmup/decay schedule starting from the
previous stage's weights. Its gate then reads a validation metric; a failing gate gets
``patience`` extra epochs (same optimizer, a fresh linear decay from the stage's
learning rate) and then the job stops as ``gated`` until ``train(gate_override=...)``.

Runs unchanged under ``accelerate launch`` (DDP across GPUs / machines): batches are
sharded by process rank, only the main process writes files.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from workers.distill import data as D
from workers.distill.checkpoint import CheckpointStore, rng_state
from workers.distill.config import DistillConfig, StageConfig, config_drift
from workers.distill.curriculum import global_lr_factor
from workers.distill.errors import DistillError
from workers.distill.gates import GateOverride, GateResult, judge
from workers.distill.recipe_data import RecipeData
from workers.distill.registry import save_model_version
from workers.distill.result import DistillResult

log = logging.getLogger(__name__)


def _noop(*_a, **_k):
    return None


class DistillRecipe(RecipeData):
    def __init__(
        self,
        config: DistillConfig | dict,
        *,
        on_progress: Callable[[dict], None] | None = None,
        on_stage_end: Callable[[dict], None] | None = None,
        on_validation: Callable[[dict], None] | None = None,
        on_warning: Callable[[str], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ):
        self.config = config if isinstance(config, DistillConfig) else DistillConfig.from_dict(config)
        self.on_progress = on_progress or _noop
        self.on_stage_end = on_stage_end or _noop
        self.on_validation = on_validation or _noop
        self._validated: tuple | None = None  # (stage, phase, step) of the last validation reported
        self._on_warning = on_warning or _noop
        self.should_stop = should_stop or (lambda: False)
        self.out = Path(self.config.output_dir)
        self.store = CheckpointStore(self.out / "checkpoints")
        self.optimizer = None
        self._is_setup = False

    # ------------------------------------------------------------------ setup
    def setup(self) -> None:
        from accelerate import Accelerator
        from accelerate.utils import set_seed
        from transformers import AutoModelForCausalLM, AutoTokenizer

        cfg = self.config
        # The accelerator comes first: device, precision and process rank decide
        # everything below (where tensors go, who writes files).
        self.accelerator = Accelerator(mixed_precision=cfg.mixed_precision, cpu=not torch.cuda.is_available())
        set_seed(cfg.seed)
        self.warnings: list[str] = []
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(cfg.student)
        except OSError as exc:
            raise DistillError(f"cannot load the student tokenizer from {cfg.student!r}: {exc}") from exc
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.pad_id = self.tokenizer.pad_token_id
        # Tokenizer compatibility is decided before any data is tokenized: it decides
        # whether soft targets are used at all.
        self.kd_mode = self._decide_kd_mode()
        # Data before the model: a missing or empty snapshot should fail in seconds.
        self._load_stage_data()
        try:
            model = AutoModelForCausalLM.from_pretrained(cfg.student, dtype=torch.float32)
        except OSError as exc:
            raise DistillError(f"cannot load the student model from {cfg.student!r}: {exc}") from exc
        self.state = self._initial_state()
        previous = self.store.read_state()
        if previous is not None:
            self._resume_state(previous, model)
        self.model = self.accelerator.prepare(model)
        self._is_setup = True

    def _warn(self, message: str) -> None:
        log.warning(message)
        self.warnings.append(message)
        self._on_warning(message)

    def _fingerprint(self) -> dict:
        summary = self.config.summary()
        for s, digest in zip(summary["stages"], self.digests):
            s["records_digest"] = digest
        summary.pop("progress_every_s", None)
        summary.pop("val_points", None)  # evaluation only: the weights do not depend on it
        return summary

    def _initial_state(self) -> dict:
        return {
            "serial": 0,
            "status": "running",
            "stage_index": 0,
            "phase": "train",
            "step": 0,
            "kd_mode": self.kd_mode,
            "config": self._fingerprint(),
            "stages": [],
            "history": [],
            "warnings": list(self.warnings),
            "final_model_dir": None,
        }

    def _resume_state(self, previous: dict, model) -> None:
        drift = config_drift(previous.get("config", {}), self._fingerprint())
        if drift:
            self._warn("resumed job's config differs from its checkpoint's: " + "; ".join(drift))
        if previous.get("kd_mode") != self.kd_mode:
            self._warn(f"KD mode changed since the checkpoint: {previous.get('kd_mode')} -> {self.kd_mode}")
        self.state = {**previous, "config": self._fingerprint(), "kd_mode": self.kd_mode}
        self.state["warnings"] = previous.get("warnings", []) + [
            w for w in self.warnings if w not in previous.get("warnings", [])
        ]
        self.resume_path = self.store.latest()
        weights = self.store.load_model_state(self.resume_path)
        missing, unexpected = model.load_state_dict(weights, strict=False)
        loaded = {p.data_ptr() for n, p in model.named_parameters() if n in weights}
        really_missing = [n for n, p in model.named_parameters() if n in missing and p.data_ptr() not in loaded]
        if really_missing or unexpected:
            raise DistillError(
                f"checkpoint {self.resume_path} does not fit the student model (missing {really_missing[:3]}, "
                f"unexpected {unexpected[:3]})"
            )
        self.state["history"].append(
            {
                "event": "resumed",
                "at": time.time(),
                "from": self.resume_path.name,
                "stage_index": previous["stage_index"],
                "step": previous["step"],
                "phase": previous["phase"],
            }
        )
        log.info(
            "resuming from %s (stage %s, %s step %s)",
            self.resume_path,
            previous["stage_index"],
            previous["phase"],
            previous["step"],
        )

    # ---------------------------------------------------------------- batching
    def _phase_steps(self, i: int, phase: str) -> int:
        return self.schedule.phase_steps(i, phase)

    def _micro_batch(self, i: int, phase: str, m: int):
        """Micro-batch ``m`` of a phase, the same after any restart (seeded)."""
        items = self.train_sets[i]
        cfg, acc = self.config, self.accelerator
        idx = self.schedule.micro_indices(i, phase, m)
        visits = self.state.setdefault("visits", {})
        for j in idx:
            tier = items[j].tier or "none"
            visits[tier] = visits.get(tier, 0) + 1
        chosen = [items[j] for j in idx[acc.process_index :: acc.num_processes]]
        if self._is_on_policy(i, phase, m) and (batch := self._on_policy_batch(i, phase, m, chosen)) is not None:
            return batch
        collate = D.collate_classification if cfg.task == "classification" else D.collate_generation
        return D.move(collate(chosen, self.pad_id), acc.device)

    # -------------------------------------------------------------- the step
    def _new_optimizer(self, stage: StageConfig):
        self.accelerator.free_memory()  # drops the previous stage's optimizer state
        model = self.accelerator.unwrap_model(self.model)
        lr = self.config.stages[0].lr if self.config.lr_schedule == "global" else stage.lr
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=self.config.weight_decay)
        self.model, self.optimizer = self.accelerator.prepare(model, opt)

    def _scheduler(self, stage: StageConfig, phase: str, total: int, i: int = 0):
        from transformers import get_linear_schedule_with_warmup

        cfg = self.config
        if phase == "train" and cfg.lr_schedule == "global":
            # One warmup and decay over the whole run: stage i starts where stage i - 1 ended.
            first, offset, run = cfg.stages[0], self.schedule.offsets[i], self.schedule.total_steps
            for group in self.optimizer.param_groups:
                group["lr"] = group["initial_lr"] = first.lr
            return torch.optim.lr_scheduler.LambdaLR(
                self.optimizer.optimizer, lambda s: global_lr_factor(offset + s, first.warmup_steps, run)
            )
        for group in self.optimizer.param_groups:
            group["lr"] = stage.lr
            group["initial_lr"] = stage.lr
        # The scheduler is stepped by hand once per optimizer step: accelerate's wrapper
        # would step it once per process.
        warmup = min(stage.warmup_steps, total) if phase == "train" else 0
        return get_linear_schedule_with_warmup(self.optimizer.optimizer, warmup, total)

    def _stop_requested(self) -> bool:
        flag = torch.tensor([1.0 if self.should_stop() else 0.0], device=self.accelerator.device)
        if self.accelerator.num_processes > 1:
            flag = self.accelerator.reduce(flag, reduction="sum")
        return bool(flag.item() > 0)

    def _run_phase(self, i: int, phase: str) -> None:
        """Train phase ``phase`` of stage ``i`` from ``state["step"]`` to its end."""
        cfg, acc, stage = self.config, self.accelerator, self.config.stages[i]
        total = self._phase_steps(i, phase)
        if self.optimizer is None or (phase == "train" and self.state["step"] == 0):
            self._new_optimizer(stage)
        scheduler = self._scheduler(stage, phase, total, i)
        start = self.state["step"]
        resume = getattr(self, "resume_path", None)
        if start > 0 and resume is not None:
            self.store.load_optimizer(resume, self.optimizer.optimizer)
            self.store.load_scheduler(resume, scheduler)
            self.store.load_rng(resume)
            self.resume_path = None
        self.model.train()
        last_report, window_tokens, window_start = 0.0, 0, time.time()
        step_times = []
        # Validation points inside the phase; the one at its end is the gate's (_evaluate_gate).
        val_marks = {round(total * k / cfg.val_points) for k in range(1, cfg.val_points)} if self.val[i] else set()
        for step in range(start, total):
            if self._stop_requested():
                self.state.update(status="stopped", step=step)
                self._checkpoint(scheduler)
                raise _Stopped()
            t0 = time.time()
            parts = None
            for micro in range(cfg.grad_accum):
                batch = self._micro_batch(i, phase, step * cfg.grad_accum + micro)
                window_tokens += int(batch["attention_mask"].sum()) * acc.num_processes
                sync = micro == cfg.grad_accum - 1
                ctx = acc.no_sync(self.model) if not sync and acc.num_processes > 1 else contextlib.nullcontext()
                with ctx:
                    parts = self._guarded_loss(batch, stage, step, *self._loss_settings(i, phase, step))
                    acc.backward(parts.loss / cfg.grad_accum)
            if cfg.max_grad_norm:
                acc.clip_grad_norm_(self.model.parameters(), cfg.max_grad_norm)
            self.optimizer.step()
            scheduler.step()
            self.optimizer.zero_grad(set_to_none=True)
            self.state["step"] = step + 1
            step_times.append(time.time() - t0)
            now = time.time()
            if now - last_report >= cfg.progress_every_s or step + 1 == total:
                self._report(
                    i,
                    phase,
                    step + 1,
                    total,
                    parts,
                    scheduler,
                    window_tokens / max(now - window_start, 1e-9),
                    step_times,
                )
                last_report, window_tokens, window_start = now, 0, now
            if step + 1 in val_marks:
                self._report_validation(i, phase, step + 1, total, self._validation_metrics(i))
            if cfg.checkpoint_every and (step + 1) % cfg.checkpoint_every == 0 and step + 1 < total:
                self._checkpoint(scheduler)

    def _report(self, i, phase, step, total, parts, scheduler, tokens_per_s, step_times):
        if not self.accelerator.is_main_process:
            return
        per_step = float(np.mean(step_times[-50:])) if step_times else 0.0
        later = sum(self._phase_steps(j, "train") for j in range(i + 1, len(self.config.stages)))
        self.on_progress(
            {
                "stage": self.config.stages[i].name,
                "stage_index": i,
                "phase": phase,
                "step": step,
                "total_steps": total,
                "loss": parts.loss.item(),
                "kd_loss": parts.kd.item(),
                "ce_loss": parts.ce.item(),
                "lr": scheduler.get_last_lr()[0],
                "tokens_per_s": tokens_per_s,
                "eta_s": per_step * (total - step + later),
            }
        )

    # ------------------------------------------------------------ checkpoints
    def _checkpoint(self, scheduler=None, *, with_optimizer: bool = True) -> None:
        acc = self.accelerator
        acc.wait_for_everyone()
        self.state["serial"] = self.state.get("serial", 0) + 1
        self.state["warnings"] = list(dict.fromkeys(self.state.get("warnings", []) + self.warnings))
        if acc.is_main_process:
            self.store.save(
                state=self.state,
                model_state=acc.get_state_dict(self.model),
                optimizer=self.optimizer.optimizer if (with_optimizer and self.optimizer is not None) else None,
                scheduler=scheduler if with_optimizer else None,
                rank_rng=rng_state(),
            )
        acc.wait_for_everyone()

    # ------------------------------------------------------------------ train
    def train(self, gate_override: GateOverride | dict | None = None) -> DistillResult:
        """Run (or resume) the job to completion, a gate stop, or a cancel."""
        if not self._is_setup:
            self.setup()
        if isinstance(gate_override, dict):
            gate_override = GateOverride(**gate_override)
        st = self.state
        if st["status"] == "completed":
            return self.result()
        if st["status"] == "gated":
            if gate_override is None:
                self._warn(
                    f"the job is gated at stage {self.config.stages[st['stage_index']].name!r}: resume with a "
                    "gate override or stop it"
                )
                return self.result()
            st["history"].append(
                {"event": "gate_override", "at": time.time(), "stage_index": st["stage_index"], **vars(gate_override)}
            )
            st.update(status="running", override=vars(gate_override))
        elif st["status"] == "stopped":
            st["status"] = "running"
        try:
            while st["stage_index"] < len(self.config.stages):
                self._run_stage(st["stage_index"])
                if st["status"] == "gated":
                    return self.result()
        except _Stopped:
            return self.result()
        self._finish()
        return self.result()

    def _run_stage(self, i: int) -> None:
        st, stage = self.state, self.config.stages[i]
        # The engineer's decision lives in the state, so a kill during its extra epochs
        # resumes under the same decision.
        override = GateOverride(**st["override"]) if st.get("override") else None
        phase = st["phase"]
        if phase != "gated":
            self._run_phase(i, phase)
        gate = self._evaluate_gate(i, override, force=False)
        if override is not None:
            done = int(phase.split("-")[1]) if phase.startswith("extra") else 0
            while gate is not None and not gate.passed and done < override.extra_epochs:
                done += 1
                st.update(phase=f"extra-{done}", step=0)
                self._run_phase(i, st["phase"])
                gate = self._evaluate_gate(i, override, force=False)
            gate = self._evaluate_gate(i, override) if gate is not None and not gate.passed else gate
        else:
            done = int(phase.split("-")[1]) if phase.startswith("patience") else 0
            while gate is not None and not gate.passed and done < stage.gate.patience:
                done += 1
                st.update(phase=f"patience-{done}", step=0)
                self._run_phase(i, st["phase"])
                gate = self._evaluate_gate(i, None)
        st["override"] = None
        model_dir = self._save_stage_model(i, gate)
        record = {
            "name": stage.name,
            "index": i,
            "gate": gate.to_dict() if gate else None,
            "model_dir": str(model_dir),
            "steps": self._phase_steps(i, "train"),
            "phase": st["phase"],
            "on_policy": self._on_policy_summary(i),
        }
        st["stages"] = [s for s in st["stages"] if s["index"] != i] + [record]
        if gate is not None and not gate.passed:
            st.update(status="gated", phase="gated", step=0)
            st["history"].append({"event": "gated", "at": time.time(), "stage_index": i, "gate": gate.to_dict()})
            self._checkpoint(with_optimizer=False)
            self._emit_stage_end(i, record, "gated")
            return
        st.update(stage_index=i + 1, phase="train", step=0)
        self.optimizer = None
        self._checkpoint(with_optimizer=False)
        self._emit_stage_end(i, record, "passed")

    def _emit_stage_end(self, i, record, outcome):
        if self.accelerator.is_main_process:
            self.on_stage_end(
                {
                    "stage": record["name"],
                    "stage_index": i,
                    "outcome": outcome,
                    "gate": record["gate"],
                    "model_dir": record["model_dir"],
                    "kd_mode": self.kd_mode,
                }
            )

    def _evaluate_gate(self, i: int, override: GateOverride | None, force: bool = True) -> GateResult | None:
        stage, phase = self.config.stages[i], self.state["phase"]
        if stage.gate is None and not (self.val[i] and self.config.val_points > 0):
            return None
        metrics = self._validation_metrics(i)
        if phase != "gated":  # the validation curve's point at the phase's end
            steps = self._phase_steps(i, phase)
            self._report_validation(i, phase, steps, steps, metrics)
        if stage.gate is None:
            return None
        result = judge(stage.gate, metrics, override.threshold if override else None)
        if force and override is not None and override.force and not result.passed:
            result.passed, result.forced = True, True
        return result

    def _save_stage_model(self, i: int, gate: GateResult | None) -> Path:
        stage = self.config.stages[i]
        path = self.out / "stages" / f"{i:02d}-{stage.name}"
        self._save_version(
            path,
            f"{stage.name} (stage {i + 1} of {len(self.config.stages)})",
            {"gate": gate.to_dict() if gate else None},
        )
        return path

    def _save_version(self, path: Path, name: str, metrics: dict) -> None:
        acc = self.accelerator
        acc.wait_for_everyone()
        snapshots = dict(self.config.snapshots)
        snapshots.update({s.name: s.snapshot for s in self.config.stages if s.snapshot})
        save_model_version(
            acc.unwrap_model(self.model),
            self.tokenizer,
            path,
            name=name,
            snapshots=snapshots,
            config=self.config.summary(),
            metrics=metrics,
            extra={"kd_mode": self.kd_mode, "history": self.state["history"]},
            is_main_process=acc.is_main_process,
            save_function=acc.save,
        )
        acc.wait_for_everyone()

    def _finish(self) -> None:
        path = self.out / "final"
        self._save_version(path, "distilled student", {"stages": {s["name"]: s["gate"] for s in self.state["stages"]}})
        self.state.update(status="completed", final_model_dir=str(path))
        self._checkpoint(with_optimizer=False)

    def result(self) -> DistillResult:
        st = self.state
        stages = sorted(st["stages"], key=lambda s: s["index"])
        gated = stages[-1]["gate"] if st["status"] == "gated" and stages else None
        return DistillResult(
            status=st["status"],
            kd_mode=st["kd_mode"],
            stages=stages,
            final_model_dir=st.get("final_model_dir"),
            gate=gated,
            warnings=list(dict.fromkeys(st.get("warnings", []) + self.warnings)),
            history=st["history"],
            stage_index=st["stage_index"],
            step=st["step"],
            visits=dict(st.get("visits", {})),
            plan=self.schedule.planned_visits(),
        )

    def cleanup(self) -> None:
        self._close_teacher()
        if self._is_setup:
            self.accelerator.free_memory()
            self.optimizer = None
            self.model = None
            self._is_setup = False


class _Stopped(Exception):
    pass


def run_distillation(
    config: DistillConfig | dict, *, gate_override: GateOverride | dict | None = None, **callbacks
) -> DistillResult:
    """One call for the job layer: set up, train (resuming if a checkpoint exists), clean up."""
    recipe = DistillRecipe(config, **callbacks)
    try:
        recipe.setup()
        return recipe.train(gate_override)
    finally:
        recipe.cleanup()
