"""Duplicate clusters in the pool: prompts linked by word-bigram Jaccard >= ``cluster_threshold``.

``refresh_clusters`` indexes every prompt of the project (MinHash LSH, ``workers.hygiene.neardup``),
links each prompt to the ones at or above the threshold (exact Jaccard on the LSH's proposals) and
takes connected components (union-find). A prompt's ``cluster_id`` is its component's smallest
prompt id (its representative: "one per cluster" keeps that one), ``cluster_size`` its size; a prompt
alone keeps ``cluster_id`` empty and size 1.
"""

from __future__ import annotations

from django.db import transaction

from curation.models import Prompt
from curation.services.hygiene.contamination import plain_text
from curation.services.hygiene.settings import settings_of
from workers.hygiene.neardup import NearDupIndex

BATCH = 5000


def _root(parent: dict, x):
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


def refresh_clusters(project) -> int:
    """Recompute the project's clusters; returns the number of clusters of two or more prompts."""
    config = settings_of(project)
    prompts = Prompt.objects.filter(project=project)
    groups: dict[int, list[int]] = {}
    if config["clusters"]:
        index = NearDupIndex(float(config["cluster_threshold"]))
        rows = list(prompts.order_by("id").values_list("id", "text", "messages"))
        for lo in range(0, len(rows), BATCH):
            part = rows[lo : lo + BATCH]
            index.add_many([r[0] for r in part], [plain_text(r[1], r[2]) for r in part])
        parent = {r[0]: r[0] for r in rows}
        for lo in range(0, len(rows), BATCH):
            part = rows[lo : lo + BATCH]
            for (pid, *_), matches in zip(part, index.query_all([plain_text(r[1], r[2]) for r in part])):
                for m in matches:
                    a, b = _root(parent, pid), _root(parent, m.key)
                    if a != b:
                        parent[max(a, b)] = min(a, b)
        for pid in parent:
            groups.setdefault(_root(parent, pid), []).append(pid)
    members = [
        Prompt(id=pid, cluster_id=min(ids), cluster_size=len(ids))
        for ids in groups.values()
        if len(ids) > 1
        for pid in ids
    ]
    with transaction.atomic():
        prompts.filter(cluster_id__isnull=False).update(cluster_id=None, cluster_size=1)
        Prompt.objects.bulk_update(members, ["cluster_id", "cluster_size"], batch_size=1000)
    return sum(1 for ids in groups.values() if len(ids) > 1)
