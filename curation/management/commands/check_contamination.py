import json

from django.core.management.base import BaseCommand

from curation.management.commands._files import prompt_file
from curation.services.datasets import check_contamination


class Command(BaseCommand):
    help = (
        "Check a JSONL or CSV prompt file against a project's gold set, line by line: exact, near (word-bigram "
        "Jaccard) and, if the project turns it on, semantic duplicates. Nothing is stored."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("path")
        parser.add_argument("--format", choices=["jsonl", "csv"])
        parser.add_argument("--json", action="store_true", help="One JSON object per line of the file.")

    def handle(self, slug, path, format, json, **options):
        as_json = json
        with prompt_file(slug, path) as (project, handle, meta):
            lines = check_contamination(project, handle, fmt=format, **meta)
        if as_json:
            for line in lines:
                self.stdout.write(_dumps(line))
            return
        excluded = [line for line in lines if line["excluded"]]
        for line in lines:
            if line.get("error"):
                self.stdout.write(f"line {line['line']}: not a valid prompt ({line['error']})")
            elif line["excluded"]:
                self.stdout.write(f"line {line['line']}: {line['evidence']}")
        self.stdout.write(f"{len(excluded)} of {len(lines)} line(s) would be kept out of training.")


def _dumps(line: dict) -> str:
    keys = ("line", "excluded", "reason", "gold_item", "similarity")
    out = {k: line.get(k) for k in keys}
    if line.get("error"):
        out["error"] = line["error"]
    return json.dumps(out, ensure_ascii=False)
