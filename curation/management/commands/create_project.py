from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from curation.models import Project, Role
from curation.services import projects


class Command(BaseCommand):
    help = "Create a project (with default tiers and stages) and add members."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", help="Display name (default: the slug).")
        parser.add_argument("--task-type", choices=[c for c, _ in Project.TaskType.choices], default="generation")
        parser.add_argument("--labels", default="", help="Comma-separated labels (classification).")
        parser.add_argument(
            "--member",
            action="append",
            default=[],
            metavar="USER:ROLE",
            help="Add USER with ROLE (reader, reviewer or engineer); repeatable. The user must exist.",
        )
        parser.add_argument("--exists-ok", action="store_true", help="Only add members if the project exists.")

    @transaction.atomic
    def handle(self, slug, name, task_type, labels, member, exists_ok, **options):
        labels = [label.strip() for label in labels.split(",") if label.strip()]
        if task_type == "classification" and not labels:
            raise CommandError("A classification project needs --labels, e.g. --labels billing,account,other.")
        project = Project.objects.filter(slug=slug).first()
        if project and not exists_ok:
            raise CommandError(f"Project {slug!r} exists already (use --exists-ok to add members to it).")
        if project is None:
            project = Project.create_with_defaults(slug=slug, name=name or slug, task_type=task_type, labels=labels)
            self.stdout.write(f"Created project {slug!r} ({task_type}).")
        users = get_user_model().objects
        for spec in member:
            username, _, role = spec.partition(":")
            if role not in Role.values:
                raise CommandError(f"--member {spec!r}: role must be one of {', '.join(Role.values)}.")
            user = users.filter(username=username).first()
            if user is None:
                raise CommandError(
                    f"--member {spec!r}: no user {username!r} (create it with createsuperuser or the admin)."
                )
            projects.grant_role(project, user, role)
            self.stdout.write(f"{username} is {role} of {slug}.")
