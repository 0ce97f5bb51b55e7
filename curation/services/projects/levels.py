"""A project's tier or stage by the name a person or client gave: the one lookup every surface uses
(the focus view, the verdicts API, bulk actions, the review filter, gold items)."""

from __future__ import annotations

from curation.models import Stage, Tier
from curation.services.errors import ReviewError

NONE = "none"  # "no tier" in forms, filters and the API (no tier may take this name)


def tier_named(project, name, *, field: str = "tier", required: bool = False) -> Tier | None:
    """The tier called ``name``; None for "none" (and for nothing given, unless ``required``).
    ``ReviewError`` naming ``field`` when the project has no such tier."""
    if name in (None, ""):
        if required:
            raise ReviewError("Choose the tier to set (or 'none' to clear it).", field, code="required")
        return None
    if name == NONE:
        return None
    tier = project.tiers.filter(name=name).first()
    if tier is None:
        names = ", ".join(project.tiers.values_list("name", flat=True)) or "(there are none yet)"
        raise ReviewError(f"No tier {name!r} here; choose one of {names}, or 'none'.", field, code="not_found")
    return tier


def stage_named(project, name, *, field: str = "stage") -> Stage:
    """The stage called ``name``; ``ReviewError`` naming ``field`` when it is missing or unknown."""
    if name in (None, ""):
        raise ReviewError("Choose a stage.", field, code="required")
    stage = project.stages.filter(name=name).first()
    if stage is None:
        names = ", ".join(project.stages.values_list("name", flat=True))
        raise ReviewError(f"No stage {name!r} here; choose one of {names}.", field, code="not_found")
    return stage
