"""A project's settings (guidelines, second pass, checks, tier cut points), saved with their audit entry."""

from django.db import transaction

from curation.models import Project
from curation.services import audit

SETTINGS = ("guidelines", "require_second_approval", "checks", "tier_quantiles")


@transaction.atomic
def save_settings(project: Project, values: dict, *, by=None) -> Project:
    """Store ``values`` (already validated: the settings form's cleaned data) on ``project``."""
    stored = Project.objects.select_for_update().get(pk=project.pk)
    before = {field: getattr(stored, field) for field in SETTINGS}
    after = {field: values.get(field, before[field]) for field in SETTINGS}
    old, new = audit.changed(before, after)
    if not new:
        return stored
    for field, value in new.items():
        setattr(stored, field, value)
    stored.save(update_fields=list(new))
    audit.record(audit.Kind.SETTINGS, "update", stored, project=stored, by=by, before=old, after=new)
    return stored


def record_curriculum_change(project: Project, op: str, kind: str, before: dict | None, after: dict | None, *, by=None):
    """An engineer added, renamed, moved or removed a stage or tier (``before``/``after``: its name and order)."""
    name = (after or before or {}).get("name")
    audit.record(
        audit.Kind.SETTINGS, f"{op} {kind}", f"{kind} {name}", project=project, by=by, before=before, after=after
    )
