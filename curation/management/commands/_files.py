"""What the commands that read a prompt file share (Django skips modules starting with ``_``)."""

from contextlib import contextmanager
from pathlib import Path

from django.core.management.base import CommandError

from curation.models import Project
from curation.services.datasets import ImportRejected


@contextmanager
def prompt_file(slug: str, path: str):
    """``(project, handle, file)`` for a project's slug and a file's path; a refused file is a CommandError."""
    project = Project.objects.filter(slug=slug).first()
    if project is None:
        raise CommandError(f"No project {slug!r}.")
    file = Path(path)
    if not file.is_file():
        raise CommandError(f"No such file: {path}")
    with file.open("rb") as handle:
        try:
            yield project, handle, {"filename": file.name, "size": file.stat().st_size}
        except ImportRejected as exc:
            raise CommandError(str(exc)) from None
