"""Build small GPT-2-style models and byte-level BPE tokenizers locally.

No model hub is needed: the tests, the benchmarks and the demo teacher all start
from a tokenizer trained here with ``tokenizers`` and a freshly initialised
GPT-2 config, saved with ``save_pretrained`` so that every loader in the product
(``AutoModelForCausalLM.from_pretrained(path)``) treats it like any other model.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

SPECIAL_TOKENS = {"eos": "<|endoftext|>", "pad": "<|pad|>"}


def train_tokenizer(texts: Iterable[str], vocab_size: int = 512) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer (GPT-2 style) trained on ``texts``."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[SPECIAL_TOKENS["eos"], SPECIAL_TOKENS["pad"]],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(texts), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=SPECIAL_TOKENS["eos"],
        bos_token=SPECIAL_TOKENS["eos"],
        pad_token=SPECIAL_TOKENS["pad"],
        padding_side="left",
    )
    return fast


def build_gpt2(
    tokenizer: PreTrainedTokenizerFast,
    *,
    n_layer: int = 2,
    n_head: int = 2,
    n_embd: int = 64,
    n_positions: int = 256,
    seed: int = 0,
    dropout: float = 0.0,
) -> GPT2LMHeadModel:
    """A randomly initialised GPT-2 with ``tokenizer``'s vocabulary (``dropout``: its residual,
    embedding and attention dropout)."""
    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_layer=n_layer,
        n_head=n_head,
        n_embd=n_embd,
        n_positions=n_positions,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        resid_pdrop=dropout,
        embd_pdrop=dropout,
        attn_pdrop=dropout,
    )
    return GPT2LMHeadModel(config)


def save(model, tokenizer, out_dir: str | Path) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def parameter_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def init_embeddings_from_teacher(student, teacher) -> dict:
    """Start ``student``'s token and position embeddings from ``teacher``'s, projected to its width.

    The two must share a tokenizer (row i of both embedding tables is the same token). The
    teacher's token embeddings, centred, are projected on their top principal directions
    (as many as the student is wide); its position embeddings on the same directions, so both
    land in one residual basis. A student as wide as the teacher gets them unprojected. It is
    the embedding half of initialising a student from its teacher (DistilBERT copies layers
    too; here the widths differ). Returns what was done and the share of the token
    embeddings' variance kept.
    """
    s_tok, t_tok = student.get_input_embeddings().weight, teacher.get_input_embeddings().weight
    if s_tok.shape[0] != t_tok.shape[0]:
        raise ValueError(
            f"the student's vocabulary ({s_tok.shape[0]} tokens) is not the teacher's ({t_tok.shape[0]}): "
            "initialising from the teacher needs one shared tokenizer"
        )
    width, t_width = s_tok.shape[1], t_tok.shape[1]
    if width > t_width:
        raise ValueError(f"the student ({width} wide) is wider than the teacher ({t_width}): nothing to project")
    with torch.no_grad():
        tokens = t_tok.detach().float()
        centred = tokens - tokens.mean(0, keepdim=True)
        _, sv, directions = torch.linalg.svd(centred, full_matrices=False)
        basis = directions[:width].T  # [teacher width, student width]
        s_tok.copy_(centred @ basis)
        kept = float((sv[:width] ** 2).sum() / (sv**2).sum())
        positions = None
        s_pos, t_pos = _position_table(student), _position_table(teacher)
        if s_pos is not None and t_pos is not None:
            n = min(s_pos.shape[0], t_pos.shape[0])
            table = t_pos.detach().float()[:n]
            s_pos[:n].copy_((table - table.mean(0, keepdim=True)) @ basis)
            positions = n
    return {"from": "teacher", "token_variance_kept": round(kept, 4), "positions": positions, "width": width}


def _position_table(model):
    wpe = getattr(getattr(model, "transformer", None), "wpe", None)
    return wpe.weight if wpe is not None else None
