"""Factories and helpers for the reviewer workspace's tests."""

import math

import factory
import numpy as np
from django.conf import settings

from curation.models import GoldItem, ModelSpec, TeacherSample
from tests.factories import ExampleFactory, PromptFactory
from workers.softtargets import ShardWriter, SoftTargets, tail_logprob_from_topk


class ModelSpecFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModelSpec

    name = factory.Sequence(lambda n: f"teacher-{n}")
    path = "/nonexistent/teacher"


class TeacherSampleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TeacherSample

    prompt = factory.SubFactory(PromptFactory)
    sample_index = factory.Sequence(lambda n: n)
    text = factory.Sequence(lambda n: f"Sample text {n}.")
    mean_logprob = -0.4


class GoldItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GoldItem

    prompt = factory.SubFactory(PromptFactory)
    project = factory.LazyAttribute(lambda o: o.prompt.project)
    reference = "The reference answer."
    confirmed = True


def write_soft_targets(key, token_ids, probabilities, k=4, vocab=50, root=None):
    """A shard holding ``token_ids`` whose chosen token has ``probabilities``; returns the pointer.

    The chosen token is the top-1 alternative; the other k-1 share what is left.
    """
    t = len(token_ids)
    topk_ids = np.zeros((t, k), dtype=np.int32)
    topk_logprobs = np.zeros((t, k), dtype=np.float32)
    for i, (tok, p) in enumerate(zip(token_ids, probabilities, strict=True)):
        others = [x for x in range(vocab) if x != tok][: k - 1]
        topk_ids[i] = [tok, *others]
        rest = (1 - p) / k
        topk_logprobs[i] = [math.log(p)] + [math.log(rest)] * (k - 1)
    st = SoftTargets(
        token_ids=np.array(token_ids, dtype=np.int32),
        topk_ids=topk_ids,
        topk_logprobs=topk_logprobs,
        tail_logprob=tail_logprob_from_topk(topk_logprobs),
        token_logprob=np.log(np.array(probabilities, dtype=np.float32)),
    )
    with ShardWriter(root or settings.ARTIFACT_DIR, prefix="test-review") as writer:
        writer.add(key, st)
        pointers = writer.flush()
    return pointers[key]


def example_with_sample(project, spec=None, pointer="", **fields):
    """An example made from a teacher sample (stats copied, as generation does)."""
    prompt = fields.pop("prompt", None) or PromptFactory(project=project)
    sample = TeacherSampleFactory(
        prompt=prompt, model_spec=spec, soft_targets=pointer, text=fields.get("response", "Teacher says hi.")
    )
    return ExampleFactory(prompt=prompt, sample=sample, soft_targets=pointer, **fields)
