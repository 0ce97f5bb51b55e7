from django.core.management.base import BaseCommand, CommandError

from curation.management.commands._files import prompt_file
from curation.services.datasets import import_prompts


class Command(BaseCommand):
    help = "Import prompts from a JSONL or CSV file into a project."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("path")
        parser.add_argument("--format", choices=["jsonl", "csv"])
        parser.add_argument("--skip-bad-lines", action="store_true")
        parser.add_argument("--source", default="imported", choices=["imported", "synthetic", "human", "retrieval"])

    def handle(self, slug, path, format, skip_bad_lines, source, **options):
        with prompt_file(slug, path) as (project, handle, meta):
            result = import_prompts(
                project,
                handle,
                **meta,
                fmt=format,
                skip_bad_lines=skip_bad_lines,
                source=source,
            )
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
