"""Engineers shape the curriculum: add, rename, reorder and remove stages and tiers.

Stages and tiers share the rules, so one set of functions serves both (``kind`` is
"stage" or "tier"). The pool stays the first stage and cannot be renamed or removed;
a stage or tier that still holds examples cannot be removed (move them first).
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max

from curation.models import Stage, Tier
from curation.services.errors import ReviewError
from curation.services.projects import NONE

KINDS = {"stage": Stage, "tier": Tier}
MAX_NAME = 50


def _levels(project, kind):
    if kind not in KINDS:
        raise ReviewError(f"expected 'stage' or 'tier', got {kind!r}.", "kind")
    return KINDS[kind].objects.filter(project=project)


def _clean_name(project, kind, name: str, exclude_id=None) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ReviewError(f"the {kind} needs a name.", "name")
    if len(name) > MAX_NAME:
        raise ReviewError(f"at most {MAX_NAME} characters.", "name")
    if kind == "tier" and name.casefold() == NONE:
        raise ReviewError("'none' means 'no tier' in filters; pick another name.", "name")
    clash = _levels(project, kind).filter(name__iexact=name).exclude(id=exclude_id)
    if clash.exists():
        raise ReviewError(f"there is already a {kind} called {clash.first().name!r}.", "name")
    return name


def level(project, kind, level_id):
    found = _levels(project, kind).filter(id=level_id).first()
    if found is None:
        raise ReviewError(f"no such {kind} here.", "id", code="not_found")
    return found


@transaction.atomic
def add_level(project, kind, name):
    name = _clean_name(project, kind, name)
    last = _levels(project, kind).aggregate(last=Max("order"))["last"]
    return KINDS[kind].objects.create(project=project, name=name, order=0 if last is None else last + 1)


@transaction.atomic
def rename_level(project, kind, level_id, name):
    target = level(project, kind, level_id)
    if kind == "stage" and target.is_pool:
        raise ReviewError("the pool keeps its name; it holds the examples not placed in a stage yet.", "name")
    target.name = _clean_name(project, kind, name, exclude_id=target.id)
    target.save(update_fields=["name"])
    return target


@transaction.atomic
def move_level(project, kind, level_id, step: int):
    """Swap with the neighbour before (step -1) or after (+1); the pool never moves."""
    ordered = list(_levels(project, kind).select_for_update().order_by("order", "id"))
    index = next((i for i, x in enumerate(ordered) if x.id == level_id), None)
    if index is None:
        raise ReviewError(f"no such {kind} here.", "id", code="not_found")
    other = index + step
    first_movable = 1 if kind == "stage" else 0
    if getattr(ordered[index], "is_pool", False) or not first_movable <= other < len(ordered):
        return ordered[index]
    ordered[index], ordered[other] = ordered[other], ordered[index]
    for position, item in enumerate(ordered):
        if item.order != position:
            item.order = position
            item.save(update_fields=["order"])
    return ordered[other]


@transaction.atomic
def remove_level(project, kind, level_id):
    target = level(project, kind, level_id)
    if kind == "stage" and target.is_pool:
        raise ReviewError("The pool cannot be removed.")
    held = target.examples.filter(project=project).count()  # project first: the queue's indexes serve it
    if held:
        raise ReviewError(f"{target.name!r} still holds {held:,} example{'s' if held != 1 else ''}; move them first.")
    target.delete()
