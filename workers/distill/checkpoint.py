"""Atomic training checkpoints: model, optimizer, scheduler, RNG, stage/step, config.

Layout under ``<output_dir>/checkpoints``: one directory per checkpoint
(``ckpt-000012``), written under a temporary name and renamed into place, then
``LATEST`` (the name of the newest complete checkpoint) is replaced atomically. A
process killed at any moment leaves either the old or the new checkpoint as LATEST,
never a half-written one. Older checkpoints are pruned after the switch.

Optimizer state is saved from the main process (DDP replicates it); sharded
optimizers (FSDP / DeepSpeed ZeRO) would need ``accelerator.save_state`` instead.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

LATEST = "LATEST"


def rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def write_json_atomic(path: Path, data) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as fh:
        json.dump(data, fh, indent=1, default=str)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class CheckpointStore:
    def __init__(self, root: str | Path, keep: int = 1):
        self.root = Path(root)
        self.keep = keep

    def latest(self) -> Path | None:
        pointer = self.root / LATEST
        if not pointer.exists():
            return None
        path = self.root / pointer.read_text().strip()
        return path if (path / "state.json").exists() else None

    def read_state(self) -> dict | None:
        path = self.latest()
        return json.loads((path / "state.json").read_text()) if path else None

    def save(
        self, *, state: dict, model_state: dict, optimizer=None, scheduler=None, rank_rng: dict | None = None
    ) -> Path:
        """Write one checkpoint (call on the main process only) and make it LATEST."""
        self.root.mkdir(parents=True, exist_ok=True)
        serial = int(state.get("serial", 0))
        name = f"ckpt-{serial:06d}"
        tmp = self.root / f".{name}.tmp"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        tensors = {k: v.detach().to("cpu").contiguous() for k, v in model_state.items()}
        save_file(_dedupe_shared(tensors), tmp / "model.safetensors")
        if optimizer is not None:
            torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        if scheduler is not None:
            torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
        torch.save(rank_rng if rank_rng is not None else rng_state(), tmp / "rng.pt")
        write_json_atomic(tmp / "state.json", state)
        final = self.root / name
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        pointer_tmp = self.root / (LATEST + ".tmp")
        pointer_tmp.write_text(name)
        os.replace(pointer_tmp, self.root / LATEST)
        self._prune(final)
        return final

    def _prune(self, newest: Path) -> None:
        done = sorted(p for p in self.root.glob("ckpt-*") if p.is_dir() and p != newest)
        for old in done[: max(0, len(done) - (self.keep - 1))]:
            shutil.rmtree(old, ignore_errors=True)

    @staticmethod
    def load_model_state(path: Path) -> dict:
        return load_file(path / "model.safetensors")

    @staticmethod
    def load_optimizer(path: Path, optimizer) -> bool:
        f = path / "optimizer.pt"
        if f.exists():
            optimizer.load_state_dict(torch.load(f, weights_only=False))
            return True
        return False

    @staticmethod
    def load_scheduler(path: Path, scheduler) -> bool:
        f = path / "scheduler.pt"
        if f.exists():
            scheduler.load_state_dict(torch.load(f, weights_only=False))
            return True
        return False

    @staticmethod
    def load_rng(path: Path) -> None:
        f = path / "rng.pt"
        if f.exists():
            set_rng_state(torch.load(f, weights_only=False))


def _dedupe_shared(tensors: dict) -> dict:
    """safetensors refuses tensors sharing storage (tied embeddings): keep one copy each."""
    seen, out = {}, {}
    for k, v in tensors.items():
        key = (v.untyped_storage().data_ptr(), v.storage_offset(), tuple(v.shape))
        if key in seen:
            continue
        seen[key] = k
        out[k] = v
    return out
