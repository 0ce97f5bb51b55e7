"""Starting a student's embeddings from its teacher's (workers.modelbuild.init_embeddings_from_teacher)."""

import pytest
import torch

from workers.modelbuild import build_gpt2, init_embeddings_from_teacher, train_tokenizer

TEXTS = [f"ticket {i}: my card was charged twice for order {i}, please refund" for i in range(40)]


@pytest.fixture(scope="module")
def tok():
    return train_tokenizer(TEXTS, vocab_size=300)


def test_the_student_gets_the_teachers_embeddings_on_their_principal_directions(tok):
    teacher = build_gpt2(tok, n_layer=1, n_head=2, n_embd=32, seed=0)
    student = build_gpt2(tok, n_layer=1, n_head=2, n_embd=8, seed=1)
    before = student.transformer.h[0].attn.c_attn.weight.clone()
    info = init_embeddings_from_teacher(student, teacher)

    E = teacher.get_input_embeddings().weight.detach()
    centred = E - E.mean(0, keepdim=True)
    S = student.get_input_embeddings().weight.detach()
    # A projection on orthonormal directions: the student's pairwise inner products are the
    # teacher's restricted to its top 8 directions, so the Gram matrices agree on those.
    _, sv, v = torch.linalg.svd(centred, full_matrices=False)
    assert torch.allclose(S, centred @ v[:8].T, atol=1e-5)
    assert torch.allclose(S.T @ S, torch.diag(sv[:8] ** 2), atol=1e-3)
    assert info["token_variance_kept"] == pytest.approx(float((sv[:8] ** 2).sum() / (sv**2).sum()), abs=1e-4)
    assert 0 < info["token_variance_kept"] < 1 and info["width"] == 8
    # Position embeddings land in the same basis; the blocks keep their own initialisation.
    P = teacher.transformer.wpe.weight.detach()
    assert torch.allclose(student.transformer.wpe.weight, (P - P.mean(0, keepdim=True)) @ v[:8].T, atol=1e-5)
    assert info["positions"] == P.shape[0]
    assert torch.equal(student.transformer.h[0].attn.c_attn.weight, before)
    # GPT-2 ties its output layer to the token embeddings: the label scores start from the teacher's too.
    assert student.lm_head.weight.data_ptr() == student.get_input_embeddings().weight.data_ptr()


def test_a_student_as_wide_as_the_teacher_keeps_every_direction(tok):
    teacher = build_gpt2(tok, n_layer=1, n_head=2, n_embd=16, seed=0)
    student = build_gpt2(tok, n_layer=1, n_head=2, n_embd=16, seed=1)
    info = init_embeddings_from_teacher(student, teacher)
    assert info["token_variance_kept"] == pytest.approx(1.0)
    # A rotation of the centred teacher embeddings: every distance between two tokens is kept.
    E = teacher.get_input_embeddings().weight.detach()
    S = student.get_input_embeddings().weight.detach()
    assert torch.allclose(torch.cdist(S, S), torch.cdist(E, E), atol=1e-4)


def test_it_refuses_a_student_that_does_not_share_the_teachers_tokenizer_or_is_wider(tok):
    other = train_tokenizer(["completely different words here"] * 5, vocab_size=270)
    teacher = build_gpt2(tok, n_layer=1, n_head=2, n_embd=16, seed=0)
    with pytest.raises(ValueError, match="shared tokenizer"):
        init_embeddings_from_teacher(build_gpt2(other, n_layer=1, n_head=2, n_embd=8), teacher)
    with pytest.raises(ValueError, match="wider than the teacher"):
        init_embeddings_from_teacher(build_gpt2(tok, n_layer=1, n_head=2, n_embd=32), teacher)
