from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from curation.models import Job
from curation.services.errors import Invalid
from curation.services.training import register_external_run


class Command(BaseCommand):
    help = (
        "Register the model versions and loss curves a distillation run outside Celery wrote "
        "(python -m workers.distill run ...) as the versions of the job whose config it trained."
    )

    def add_arguments(self, parser):
        parser.add_argument("job", type=int, help="The distillation job whose run config was trained.")
        parser.add_argument("run_dir", help="The run's output directory (it holds run.json).")
        parser.add_argument("--user", help="Recorded as who registered it.")

    def handle(self, job, run_dir, user=None, **options):
        found = Job.objects.filter(pk=job).first()
        if found is None:
            raise CommandError(f"There is no job #{job}.")
        by = None
        if user:
            by = get_user_model().objects.filter(username=user).first()
            if by is None:
                raise CommandError(f"There is no user {user!r}.")
        try:
            found = register_external_run(found, run_dir, by=by)
        except Invalid as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(found.message)
