from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from curation.models import Project
from curation.services.datasets import ImportRejected, import_prompts


class Command(BaseCommand):
    help = "Import prompts from a JSONL or CSV file into a project."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("path")
        parser.add_argument("--format", choices=["jsonl", "csv"])
        parser.add_argument("--skip-bad-lines", action="store_true")
        parser.add_argument("--source", default="imported", choices=["imported", "synthetic", "human", "retrieval"])

    def handle(self, slug, path, format, skip_bad_lines, source, **options):
        project = Project.objects.filter(slug=slug).first()
        if project is None:
            raise CommandError(f"No project {slug!r}.")
        file = Path(path)
        if not file.is_file():
            raise CommandError(f"No such file: {path}")
        with file.open("rb") as handle:
            try:
                result = import_prompts(
                    project,
                    handle,
                    filename=file.name,
                    fmt=format,
                    skip_bad_lines=skip_bad_lines,
                    source=source,
                    size=file.stat().st_size,
                )
            except ImportRejected as exc:
                raise CommandError(str(exc)) from None
        for error in result.errors:
            self.stderr.write(str(error))
        if not result.ok:
            raise CommandError(
                f"Nothing imported: {result.error_count} bad line(s). Fix them or pass --skip-bad-lines."
            )
        self.stdout.write(
            f"Imported {result.created} prompt(s) from {result.lines} line(s); {result.duplicates} "
            "duplicate(s) skipped, "
            f"{result.gold_candidates} gold candidate(s), {result.error_count} bad line(s) skipped."
        )
