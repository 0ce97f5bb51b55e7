from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from curation.models import Project
from curation.services.datasets import ImportRejected, import_prompts


class Command(BaseCommand):
    help = (
        "Import confirmed gold items from a JSONL or CSV file: {prompt|messages, reference|label, tier?} per line, "
        "checked line by line like a prompt import. Prompts equal to, or near-duplicates of, the new gold items "
        "are then kept out of training."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("path")
        parser.add_argument("--format", choices=["jsonl", "csv"])
        parser.add_argument("--skip-bad-lines", action="store_true")

    def handle(self, slug, path, format, skip_bad_lines, **options):
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
                    source="human",
                    size=file.stat().st_size,
                    as_gold=True,
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
            f"Imported {result.gold_candidates} gold item(s) from {result.lines} line(s) ({result.created} new "
            f"prompt(s)); {result.duplicates} duplicate line(s), {result.error_count} bad line(s) skipped."
        )
