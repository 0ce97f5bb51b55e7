"""A project's settings (guidelines, second pass, checks, tier cut points), saved with their audit entry."""

from django.db import transaction

from curation.models import Project
from curation.services import audit


@transaction.atomic
def save_settings(project: Project, values: dict, *, by=None) -> Project:
    """Store ``values`` (already validated: the settings form's cleaned data, field -> value) on ``project``."""
    stored = Project.objects.select_for_update().get(pk=project.pk)
    before = {field: _logged(getattr(stored, field)) for field in values}
    after = {field: _logged(value) for field, value in values.items()}
    old, new = audit.changed(before, after)
    if not new:
        return stored
    for field in new:
        setattr(stored, field, values[field])
    stored.save(update_fields=list(new))
    audit.record(audit.Kind.SETTINGS, "update", stored, project=stored, by=by, before=old, after=new)
    return stored


def _logged(value):
    """A setting as the log keeps it: a related row by its id and name."""
    return {"id": value.pk, "name": str(value)} if hasattr(value, "pk") else value


def record_curriculum_change(project: Project, op: str, kind: str, before: dict | None, after: dict | None, *, by=None):
    """An engineer added, renamed, moved or removed a stage or tier (``before``/``after``: its name and order)."""
    name = (after or before or {}).get("name")
    audit.record(
        audit.Kind.SETTINGS, f"{op} {kind}", f"{kind} {name}", project=project, by=by, before=before, after=after
    )
