"""The data and loss side of the staged recipe: the KD mode, each stage's records, the schedule
that decides what every step draws, and the loss of one step (with the curriculum's loss
schedules), and the validation passes behind the gates and the validation curves.
``DistillRecipe`` (recipe.py) inherits it; the split keeps each file readable."""

from __future__ import annotations

import torch

from workers.distill import data as D
from workers.distill.config import StageConfig, records_digest
from workers.distill.curriculum import Schedule, loss_settings
from workers.distill.errors import DistillError
from workers.distill.gates import classification_metrics, generation_metrics
from workers.distill.losses import LossParts, label_kd_loss, sampled_kd_loss, topk_gkd_loss, topk_kd_loss
from workers.distill.onpolicy import OnPolicy


class RecipeData(OnPolicy):
    def _decide_kd_mode(self) -> str:
        cfg = self.config
        if cfg.task == "classification":
            return "label"
        if cfg.teacher_tokenizer is None:
            self._warn(
                "teacher tokenizer not given: cannot verify it matches the student's; using sequence-level KD "
                "(CE on the approved responses)"
            )
            return "sequence"
        if cfg.teacher_tokenizer.startswith("sha256:"):
            same = cfg.teacher_tokenizer == D.vocab_hash(self.tokenizer)
        else:
            from transformers import AutoTokenizer

            try:
                teacher_tok = AutoTokenizer.from_pretrained(cfg.teacher_tokenizer)
            except OSError as exc:
                raise DistillError(f"cannot load the teacher tokenizer from {cfg.teacher_tokenizer!r}: {exc}") from exc
            same = D.tokenizers_compatible(teacher_tok, self.tokenizer)
        if not same:
            self._warn(
                "teacher and student tokenizers differ (vocabulary or ids): token-level KD is impossible; "
                "using sequence-level KD (CE on the approved responses)"
            )
            return "sequence"
        return "token"

    def _records(self, stage: StageConfig, attr: str) -> list[dict]:
        source = getattr(stage, attr)
        if source is None:
            return []
        try:
            records = list(source() if callable(source) else source)
        except DistillError:
            raise
        except Exception as exc:
            raise DistillError(f"stage {stage.name!r}: could not load {attr}: {exc}") from exc
        if not records:
            what = "training records" if attr == "records" else "validation records"
            raise DistillError(f"stage {stage.name!r}: no {what} (is the snapshot missing or empty?)")
        if any(isinstance(r, dict) and r.get("gold") for r in records):
            # Gold is a test set: evaluated once per trained student, never read by a gate,
            # early stopping or anything else that chooses.
            raise DistillError(
                f"stage {stage.name!r}: its {'gate' if attr == 'val_records' else 'training'} records include gold "
                "items; gold is a test set, evaluated once per trained student: select on the validation split"
            )
        return records

    def _prepare(self, records, where):
        cfg = self.config
        if cfg.task == "classification":
            return D.prepare_classification(
                records, self.tokenizer, cfg.labels, max_seq_len=cfg.max_seq_len, where=where
            )
        return D.prepare_generation(
            records, self.tokenizer, max_seq_len=cfg.max_seq_len, use_soft=self.kd_mode == "token", where=where
        )

    def _load_stage_data(self) -> None:
        cfg = self.config
        self.shared_tokenizer = self.kd_mode == "token"
        self._check_on_policy()
        self.label_ids = D.label_token_ids(self.tokenizer, cfg.labels) if cfg.task == "classification" else None
        self.own, self.val, self.digests = [], [], []
        for stage in cfg.stages:
            records = self._records(stage, "records")
            self.own.append(self._prepare(records, f"stage {stage.name!r}"))
            val = self._records(stage, "val_records")
            self.val.append(self._prepare(val, f"stage {stage.name!r} validation") if val else [])
            self.digests.append(records_digest(records))
        if cfg.task == "generation" and self.kd_mode == "token" and not any(ex.soft for exs in self.own for ex in exs):
            self._warn("no training record carries soft targets: training is sequence-level KD (CE on the responses)")
            self.kd_mode = "sequence"
        self.schedule = Schedule(self.own, cfg, self.accelerator.num_processes)
        self.train_sets = self.schedule.items
        self._warn_tempered_topk()

    def _warn_tempered_topk(self) -> None:
        cfg = self.config
        if cfg.task != "generation" or self.kd_mode != "token":
            return
        ks = [
            ex.soft["topk_ids"].shape[1]
            for exs in self.own
            for ex in exs
            if ex.soft is not None and "topk_ids" in ex.soft
        ]
        hot = [s for s in cfg.stages if s.temperature != 1.0 and s.alpha > 0]
        if ks and hot and min(ks) < len(self.tokenizer):
            self._warn(
                f"temperature {hot[0].temperature} with soft targets of top-{min(ks)} over a vocabulary of "
                f"{len(self.tokenizer)}: tempering the k + 1 stored buckets is not tempering the teacher's "
                "distribution (the tail is one pseudo-token), so the gradient points elsewhere than the dense "
                "loss's (cosine 0.54 at T 4, k 20, V 3000); train at temperature 1, or store a wider top-k"
            )

    def _loss_step(self, batch: dict, stage: StageConfig, alpha: float, temperature: float) -> LossParts:
        kw = dict(alpha=alpha, temperature=temperature, divergence=stage.divergence, beta=stage.jsd_beta)
        if self.config.task == "classification":
            scores = D.label_scores(self.model, batch, self.label_ids, self.pad_id)
            return label_kd_loss(
                scores, batch["gold"], batch.get("teacher_probs"), teacher_mask=batch.get("teacher_mask"), **kw
            )
        logits = D.response_logits(self.model, batch)
        if batch.get("on_policy"):
            parts = topk_gkd_loss(
                logits,
                batch["target_ids"],
                batch["topk_ids"],
                batch["topk_logprobs"],
                batch["tail_logprob"],
                beta=stage.on_policy.beta,
            )
            self._stats(batch["stage_index"])["jsd_sum"] += parts.kd.item()
            return parts
        if "sample_ids" in batch:
            try:
                return sampled_kd_loss(
                    logits,
                    batch["target_ids"],
                    batch["sample_ids"],
                    batch["sample_logw"],
                    kd_mask=batch["kd_mask"],
                    **kw,
                )
            except ValueError as exc:
                raise DistillError(
                    f"stage {stage.name!r}: {exc}; set its temperature to 1 and divergence to forward_kl"
                ) from None
        if "topk_ids" not in batch:
            return topk_kd_loss(logits, batch["target_ids"], None, None, None, **kw)
        return topk_kd_loss(
            logits,
            batch["target_ids"],
            batch["topk_ids"],
            batch["topk_logprobs"],
            batch["tail_logprob"],
            kd_mask=batch["kd_mask"],
            **kw,
        )

    def _loss_settings(self, i: int, phase: str, step: int) -> tuple[float, float]:
        """The stage's alpha and temperature at this step, after the loss curricula (train phase only)."""
        cfg, stage = self.config, self.config.stages[i]
        global_step = self.schedule.offsets[i] + step if phase == "train" else self.schedule.total_steps
        return loss_settings(
            stage.alpha,
            stage.temperature,
            global_step=global_step,
            total_steps=self.schedule.total_steps,
            ce_warmup_fraction=cfg.ce_warmup_fraction,
            temperature_schedule=cfg.temperature_schedule,
        )

    def _guarded_loss(self, batch, stage, step, alpha, temperature) -> LossParts:
        try:
            parts = self._loss_step(batch, stage, alpha, temperature)
        except torch.OutOfMemoryError as exc:
            raise DistillError(self._oom_message(stage, step)) from exc
        except RuntimeError as exc:
            if "out of memory" in str(exc).lower() or "can't allocate memory" in str(exc).lower():
                raise DistillError(self._oom_message(stage, step)) from exc
            raise
        if not torch.isfinite(parts.loss):
            raise DistillError(
                f"stage {stage.name!r}, step {step + 1}: the loss became {parts.loss.item()} (KD "
                f"{parts.kd.item()}, CE {parts.ce.item()}); "
                f"lower the learning rate ({stage.lr}) or the temperature ({stage.temperature}), or check the "
                "soft targets"
            )
        return parts

    def _oom_message(self, stage, step) -> str:
        cfg = self.config
        return (
            f"out of memory in stage {stage.name!r} at step {step + 1} (batch_size {cfg.batch_size}, "
            f"max_seq_len {cfg.max_seq_len}): "
            f"lower batch_size (raise grad_accum to keep the effective batch) or max_seq_len"
        )

    # -------------------------------------------------------------- validation
    def _validation_metrics(self, i: int) -> dict[str, float]:
        stage, cfg = self.config.stages[i], self.config
        model = self.accelerator.unwrap_model(self.model)
        kw = dict(
            pad_id=self.pad_id,
            device=self.accelerator.device,
            batch_size=cfg.batch_size,
            divergence=stage.divergence,
            beta=stage.jsd_beta,
        )
        if cfg.task == "classification":
            return classification_metrics(model, self.val[i], label_ids=self.label_ids, **kw)
        return generation_metrics(model, self.val[i], **kw)

    def _report_validation(self, i: int, phase: str, step: int, total: int, metrics: dict[str, float]) -> None:
        """One point of the validation curves (the same (stage, phase, step) once)."""
        key = (i, phase, step)
        if not self.accelerator.is_main_process or phase == "gated" or key == self._validated:
            return
        self._validated = key
        self.on_validation(
            {
                "stage": self.config.stages[i].name,
                "stage_index": i,
                "phase": phase,
                "step": step,
                "total_steps": total,
                "metrics": dict(metrics),
            }
        )
