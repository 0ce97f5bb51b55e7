"""Decontamination: which prompts are exact, near or semantic duplicates of a gold item, and why.

Exact duplicates (equal after normalisation) are the gold guard's stored hashes. Near duplicates
(word-bigram Jaccard at or above the project's ``near_threshold``, ``workers.hygiene.neardup``) and,
when the project turns it on, semantic ones (cosine of all-MiniLM-L6-v2 embeddings at or above
``semantic_threshold``) are written onto the prompt (``near_gold``, ``near_gold_kind``,
``near_gold_similarity``) by ``refresh_contamination``; the gold guard reads those fields, so the
board, the queue, the Gold page and snapshots keep the same prompts out. Every gold item guards,
confirmed or not, as the exact guard always has. Every decision names its gold item and similarity.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, Max

from curation.models import GoldItem, Project, Prompt
from curation.normalize import content_hash
from curation.services.hygiene.settings import settings_of
from workers.hygiene.neardup import NearDupIndex

BATCH = 5000
EXACT, NEAR, SEMANTIC = "exact", "near", "semantic"


def plain_text(text: str, messages) -> str:
    """What similarity compares: the text, or the chat turns' contents."""
    if messages:
        return "\n".join(str(m.get("content", "")) for m in messages)
    return text or ""


def evidence(kind: str, gold_item_id: int, similarity: float | None) -> str:
    """The sentence manifests, pages and the API give as the reason."""
    if kind == EXACT:
        return f"exact duplicate of gold item {gold_item_id} (equal after normalisation)"
    if kind == NEAR:
        return f"near-duplicate of gold item {gold_item_id} (Jaccard {similarity:.2f})"
    return f"semantic duplicate of gold item {gold_item_id} (cosine {similarity:.2f})"


@dataclass(frozen=True)
class Decision:
    reason: str | None = None  # exact | near | semantic | None (not a duplicate of gold)
    gold_item: int | None = None
    similarity: float | None = None

    @property
    def excluded(self) -> bool:
        return self.reason is not None

    def as_dict(self) -> dict:
        return {
            "excluded": self.excluded,
            "reason": self.reason,
            "gold_item": self.gold_item,
            "similarity": self.similarity,
            "evidence": evidence(self.reason, self.gold_item, self.similarity) if self.excluded else None,
        }


CLEAN = Decision()


class GoldIndex:
    """A project's gold items, indexed for exact, near and (optionally) semantic look-ups."""

    def __init__(self, project):
        config = settings_of(project)
        items = list(
            GoldItem.objects.filter(project=project)
            .order_by("id")
            .values_list("id", "content_hash", "prompt__text", "prompt__messages")
        )
        self.by_hash = {}
        for item_id, key, _, _ in items:
            self.by_hash.setdefault(key, item_id)
        self.lexical = NearDupIndex(float(config["near_threshold"]))
        self.lexical.add_many([i[0] for i in items], [plain_text(i[2], i[3]) for i in items])
        self.semantic = None
        if config["semantic"] and items:
            from workers.hygiene.semantic import SemanticIndex

            self.semantic = SemanticIndex(float(config["semantic_threshold"]))
            self.semantic.add_many([i[0] for i in items], [plain_text(i[2], i[3]) for i in items])
        self.empty = not items

    def decide_many(self, rows: list[tuple[str, list | None, str]]) -> list[Decision]:
        """One decision per (text, messages, content hash): exact first, then near, then semantic."""
        if self.empty:
            return [CLEAN] * len(rows)
        out: list[Decision] = [CLEAN] * len(rows)
        todo = []
        for i, (_, _, key) in enumerate(rows):
            if key in self.by_hash:
                out[i] = Decision(EXACT, self.by_hash[key], 1.0)
            else:
                todo.append(i)
        texts = [plain_text(rows[i][0], rows[i][1]) for i in todo]
        rest = []
        for i, match in zip(todo, self.lexical.query_many(texts)):
            if match is not None:
                out[i] = Decision(NEAR, int(match.key), match.similarity)
            else:
                rest.append(i)
        if self.semantic is not None and rest:
            found = self.semantic.query_many([plain_text(rows[i][0], rows[i][1]) for i in rest])
            for i, match in zip(rest, found):
                if match is not None:
                    out[i] = Decision(SEMANTIC, match.key, match.similarity)
        return out


def _gold_signature(project) -> list:
    """Changes whenever a gold item is added, changed or removed (or the thresholds change)."""
    agg = GoldItem.objects.filter(project=project).aggregate(n=Count("id"), last=Max("id"), changed=Max("updated_at"))
    config = settings_of(project)
    return [
        agg["n"],
        agg["last"],
        agg["changed"].isoformat() if agg["changed"] else None,
        config["near_threshold"],
        config["semantic"],
        config["semantic_threshold"],
    ]


def _state(project, *, lock: bool = False) -> dict:
    rows = Project.objects.filter(pk=project.pk)
    return (rows.select_for_update() if lock else rows).values_list("hygiene_state", flat=True).first() or {}


def mark_for_recheck(project, prompt_ids) -> None:
    """Prompts whose text changed keep flags decided on their old text: the next ``ensure_current``
    decides them again whatever their id (past this many, it checks everything again)."""
    with transaction.atomic():
        state = _state(project, lock=True)
        recheck = sorted({*(state.get("recheck") or []), *(int(i) for i in prompt_ids)})
        state = {**state, "recheck": recheck} if len(recheck) <= BATCH else {}
        Project.objects.filter(pk=project.pk).update(hygiene_state=state)


def ensure_current(project, recheck=()) -> None:
    """Bring the near-duplicate flags up to date before they are read (the board, the Gold page, a
    snapshot, the hygiene job): a full check when the gold set or the thresholds changed since the last
    one, else a check of the prompts added since and of those whose text changed (``mark_for_recheck``,
    or ``recheck``). Two small queries when nothing changed."""
    state = _state(project)
    if state.get("gold") != _gold_signature(project):
        refresh_contamination(project)
        return
    checked = state.get("max_prompt_id") or 0
    newest = Prompt.objects.filter(project=project).aggregate(m=Max("id"))["m"] or 0
    ids = {*(state.get("recheck") or []), *(int(i) for i in recheck)}
    if newest > checked:
        ids.update(Prompt.objects.filter(project=project, id__gt=checked).values_list("id", flat=True))
    if ids:
        refresh_contamination(project, ids, newest=max(newest, checked))


def refresh_contamination(project, prompt_ids=None, *, newest=None) -> int:
    """Re-decide which prompts (all of the project's, or ``prompt_ids``) are near or semantic duplicates
    of a gold item and store the evidence on them; returns how many are. Gold prompts themselves and
    their exact duplicates are the hash guard's and are left unflagged here."""
    signature = _gold_signature(project)
    marked = set(_state(project).get("recheck") or [])  # what this check covers of the changed prompts
    if prompt_ids is not None:
        prompt_ids = list(prompt_ids)
        marked &= set(prompt_ids)
    if newest is None and prompt_ids is None:
        newest = Prompt.objects.filter(project=project).aggregate(m=Max("id"))["m"] or 0
    index = GoldIndex(project)
    prompts = Prompt.objects.filter(project=project)
    if prompt_ids is not None:
        prompts = prompts.filter(id__in=prompt_ids)
    flagged = []
    if not index.empty:
        last = 0
        while True:
            chunk = list(
                prompts.filter(id__gt=last).order_by("id").values_list("id", "text", "messages", "content_hash")[:BATCH]
            )
            if not chunk:
                break
            last = chunk[-1][0]
            for (pid, *_), decision in zip(chunk, index.decide_many([c[1:] for c in chunk])):
                if decision.reason in (NEAR, SEMANTIC):
                    flagged.append(
                        Prompt(
                            id=pid,
                            near_gold_id=decision.gold_item,
                            near_gold_kind=decision.reason,
                            near_gold_similarity=decision.similarity,
                        )
                    )
    with transaction.atomic():
        prompts.filter(near_gold__isnull=False).update(near_gold=None, near_gold_kind="", near_gold_similarity=None)
        Prompt.objects.bulk_update(flagged, ["near_gold", "near_gold_kind", "near_gold_similarity"], batch_size=1000)
        if newest is not None:  # the whole project (or everything up to ``newest``) is now checked
            # Prompts marked while this check ran may have been read before their edit: they stay marked.
            left = sorted(set(_state(project, lock=True).get("recheck") or []) - marked)
            state = {"max_prompt_id": newest, "gold": signature, **({"recheck": left} if left else {})}
            Project.objects.filter(pk=project.pk).update(hygiene_state=state)
    return len(flagged)


def check_prompts(project, rows: list[tuple[str, list | None]]) -> list[Decision]:
    """Decisions for outside prompts (text, messages) against the project's gold set (nothing is stored)."""
    index = GoldIndex(project)
    return index.decide_many([(text, messages, content_hash(text, messages)) for text, messages in rows])


def contaminated_prompts(project):
    """Prompts of the project flagged as near or semantic duplicates of a gold item, with the item."""
    return Prompt.objects.filter(project=project, near_gold__isnull=False).select_related("near_gold")


def prompt_evidence(project, prompts) -> dict:
    """``{prompt id: why it is kept out of training}`` for gold-guarded prompts (the Gold page's list)."""
    prompts = list(prompts)
    hashes = {p.content_hash for p in prompts}
    gold = dict(GoldItem.objects.filter(project=project, content_hash__in=hashes).values_list("content_hash", "id"))
    own = set(GoldItem.objects.filter(project=project, prompt__in=prompts).values_list("prompt_id", flat=True))
    out = {}
    for p in prompts:
        if p.id in own:
            out[p.id] = f"the prompt of gold item {gold.get(p.content_hash)}"
        elif p.content_hash in gold:
            out[p.id] = evidence(EXACT, gold[p.content_hash], 1.0)
        elif p.near_gold_id:
            out[p.id] = evidence(p.near_gold_kind, p.near_gold_id, p.near_gold_similarity)
    return out


def examples_evidence(guarded, project, limit: int) -> list[dict]:
    """Why each gold-guarded example of ``guarded`` is left out (at most ``limit``): its gold item, the kind
    and the similarity (a snapshot's ``decontamination`` and its manifest)."""
    gold_by_hash = dict(GoldItem.objects.filter(project=project).values_list("content_hash", "id"))
    rows = guarded.order_by("id").values_list(
        "id",
        "prompt_id",
        "prompt__content_hash",
        "prompt__near_gold_id",
        "prompt__near_gold_kind",
        "prompt__near_gold_similarity",
    )[:limit]
    out = []
    for example_id, prompt_id, key, near_id, kind, similarity in rows:
        if key in gold_by_hash:
            kind, gold_id, similarity = EXACT, gold_by_hash[key], 1.0
        else:
            gold_id = near_id
        out.append(
            {
                "example_id": example_id,
                "prompt_id": prompt_id,
                "reason": kind,
                "gold_item": gold_id,
                "similarity": similarity,
                "evidence": evidence(kind, gold_id, similarity),
            }
        )
    return out
