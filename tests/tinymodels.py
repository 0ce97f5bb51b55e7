"""Tiny GPT-2-style models and tokenizers the tests build themselves (no hub)."""

from __future__ import annotations

from pathlib import Path

from workers.modelbuild import build_gpt2, save, train_tokenizer

CORPUS = [
    "My invoice shows a double charge, please refund the extra payment.",
    "I cannot log in to my account, the password reset email never arrives.",
    "The app crashes every time I open the settings page on Android.",
    "How do I change the shipping address on my order?",
    "Billing: charged twice this month. Account: locked out after reset.",
    "Technical issue: error 500 when uploading a file larger than 10 MB.",
    "Thanks for the quick reply, the problem is solved now.",
    "Ticket: refund request\nCategory: billing",
    "Ticket: cannot sign in\nCategory: account",
    "Ticket: page does not load\nCategory: technical",
    "User: hello\nAssistant: Hi! How can I help you today?",
    '{"answer": 42, "ok": true}',
] * 4


def build_tiny_model(out_dir: str | Path, *, n_layer=2, n_embd=64, n_head=2, vocab_size=400, seed=0):
    """Save a tiny random GPT-2 and its BPE tokenizer to ``out_dir``; return the path."""
    tokenizer = train_tokenizer(CORPUS, vocab_size=vocab_size)
    model = build_gpt2(tokenizer, n_layer=n_layer, n_embd=n_embd, n_head=n_head, seed=seed)
    model.eval()
    return save(model, tokenizer, out_dir)
