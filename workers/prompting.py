"""How a prompt becomes model input: one rendering shared by teacher and student.

The teacher generates from, and the student is trained on, exactly the text this
module produces, so a curated example means the same thing at both ends.
"""

from __future__ import annotations

from typing import Any

Messages = list[dict[str, Any]]


def render_prompt(tokenizer, prompt: str | Messages) -> str:
    """The text a causal LM sees before its answer.

    Chat prompts use the tokenizer's chat template when it has one; otherwise (and
    for the locally built tokenizers, which have none) a plain ``Role: text`` layout
    that ends with ``Assistant:``. Plain-text prompts are used as they are.
    """
    if isinstance(prompt, str):
        return prompt
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
    lines = [f"{m.get('role', 'user').capitalize()}: {m.get('content', '')}" for m in prompt]
    return "\n".join(lines) + "\nAssistant:"


def label_continuation(label: str) -> str:
    """The continuation scored for ``label`` in a classification project."""
    return " " + label
