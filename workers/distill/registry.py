"""Model registry on disk: save_pretrained + a model card, and download archives.

A saved version is a directory loadable with ``AutoModelForCausalLM.from_pretrained``
and ``AutoTokenizer.from_pretrained``, plus ``model_card.json`` (machine-readable) and
``README.md`` (the same facts for people).
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import tarfile
from pathlib import Path
from typing import Any

from workers.distill.checkpoint import write_json_atomic

CARD_FILE = "model_card.json"


def code_version() -> str:
    """``git describe --always --dirty`` of this checkout, or "unknown" outside git."""
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"


def environment() -> dict[str, Any]:
    """What the float arithmetic of training depended on besides the code: the torch version and
    the CPU thread count (the same job on 1 and on 2 threads trains different weights; README,
    "Why the student falls short on gold"). The process that saves the version reports it."""
    import torch

    return {"torch": torch.__version__, "cpu_threads": torch.get_num_threads(), "cuda": torch.cuda.is_available()}


def save_model_version(
    model,
    tokenizer,
    out_dir: str | Path,
    *,
    name: str,
    snapshots: dict[str, str] | None = None,
    config: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    is_main_process: bool = True,
    save_function=None,
) -> Path:
    """Save weights, tokenizer and card into ``out_dir``; return it.

    ``snapshots``: name -> content hash of the snapshots trained on (given by the caller).
    """
    out = Path(out_dir)
    kwargs = {"is_main_process": is_main_process}
    if save_function is not None:
        kwargs["save_function"] = save_function
    model.save_pretrained(out, **kwargs)
    if not is_main_process:
        return out
    tokenizer.save_pretrained(out)
    card = {
        "name": name,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "code_version": code_version(),
        "architecture": type(model).__name__,
        "parameters": sum(p.numel() for p in model.parameters()),
        "environment": environment(),
        "snapshots": snapshots or {},
        "config": config or {},
        "metrics": metrics or {},
        **(extra or {}),
    }
    write_json_atomic(out / CARD_FILE, card)
    (out / "README.md").write_text(_readme(card))
    return out


def load_card(model_dir: str | Path) -> dict[str, Any]:
    return json.loads((Path(model_dir) / CARD_FILE).read_text())


def _readme(card: dict[str, Any]) -> str:
    env = card.get("environment") or {}
    lines = [
        f"# {card['name']}",
        "",
        f"- created: {card['created']}",
        f"- code version: {card['code_version']}",
        f"- architecture: {card['architecture']} ({card['parameters']:,} parameters)",
        f"- trained with: torch {env.get('torch', '?')}, {env.get('cpu_threads', '?')} CPU thread(s)"
        + (", CUDA" if env.get("cuda") else ""),
        "",
        "Load with `AutoModelForCausalLM.from_pretrained(path)` and `AutoTokenizer.from_pretrained(path)`.",
        "",
        "## Snapshots",
    ]
    lines += [f"- {k}: `{v}`" for k, v in card["snapshots"].items()] or ["- (none recorded)"]
    lines += ["", "## Metrics", "```json", json.dumps(card["metrics"], indent=2, default=str), "```"]
    lines += ["", "## Config", "```json", json.dumps(card["config"], indent=2, default=str), "```", ""]
    return "\n".join(lines)


def pack_archive(model_dir: str | Path, archive_path: str | Path | None = None) -> Path:
    """Pack ``model_dir`` into a .tar.gz (top-level folder = the directory's name)."""
    src = Path(model_dir)
    if not src.is_dir():
        raise FileNotFoundError(f"no model directory at {src}")
    dest = Path(archive_path) if archive_path else src.with_name(src.name + ".tar.gz")
    tmp = dest.with_name(dest.name + ".tmp")
    with tarfile.open(tmp, "w:gz") as tar:
        tar.add(src, arcname=src.name)
    tmp.replace(dest)
    return dest
