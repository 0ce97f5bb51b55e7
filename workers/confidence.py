"""A trained student's confidence on prompts without answers (drift monitoring; no Django).

The same confidence the routing simulation uses: classification, the top label probability
(label scores as the evaluation computes them); generation, the geometric-mean probability of
the tokens the student generates greedily (``exp`` of their mean log-probability).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from workers.distill.data import ClsExample, collate_classification, label_scores, label_token_ids
from workers.evaluation import load_model
from workers.prompting import render_prompt

BATCH = 16


@torch.inference_mode()
def student_confidences(
    path: str, prompts: Sequence, labels: Sequence[str] | None = None, max_new_tokens: int = 16
) -> list[float]:
    """One confidence in [0, 1] per prompt (a text or chat messages) for the model at ``path``."""
    lm = load_model(path)
    tok = lm.tokenizer
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    ids = [list(tok(render_prompt(tok, p), add_special_tokens=False)["input_ids"]) for p in prompts]
    if labels:
        conts = label_token_ids(tok, list(labels))
        out: list[float] = []
        for lo in range(0, len(ids), BATCH):
            batch = collate_classification([ClsExample(x, 0, None) for x in ids[lo : lo + BATCH]], pad)
            probs = torch.softmax(label_scores(lm.model, batch, conts, pad), -1)
            out += probs.max(-1).values.tolist()
        return out
    out = []
    for x in ids:
        input_ids = torch.tensor([x])
        generated = lm.model.generate(
            input_ids=input_ids,
            attention_mask=torch.ones_like(input_ids),
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=pad,
            output_scores=True,
            return_dict_in_generate=True,
        )
        new = generated.sequences[0, input_ids.shape[1] :].tolist()
        chosen = [torch.log_softmax(s[0].float(), -1)[t].item() for s, t in zip(generated.scores, new)]
        out.append(float(np.exp(np.mean(chosen))) if chosen else 0.0)
    return out
