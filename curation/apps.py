from django.apps import AppConfig


class CurationConfig(AppConfig):
    name = "curation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Register the Celery tasks in every process (not only in workers): jobs.enqueue
        # finds a job's task by name in the app's registry, also in the web server.
        from django.core import checks

        import workers.tasks  # noqa: F401
        from curation.sso import check_membership_mapping

        checks.register(check_membership_mapping)
