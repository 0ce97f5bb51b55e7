from django.core.management.base import BaseCommand, CommandError

from curation.management.commands._files import prompt_file
from curation.services.datasets import import_prompts


class Command(BaseCommand):
    help = (
        "Import confirmed gold items from a JSONL or CSV file: {prompt|messages, reference|label, tier?, "
        "purpose? (test, the default, or dev)} per line, "
        "checked line by line like a prompt import. Prompts equal to, or near-duplicates of, the new gold items "
        "are then kept out of training."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("path")
        parser.add_argument("--format", choices=["jsonl", "csv"])
        parser.add_argument("--skip-bad-lines", action="store_true")

    def handle(self, slug, path, format, skip_bad_lines, **options):
        with prompt_file(slug, path) as (project, handle, meta):
            result = import_prompts(
                project,
                handle,
                **meta,
                fmt=format,
                skip_bad_lines=skip_bad_lines,
                source="human",
                as_gold=True,
            )
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
