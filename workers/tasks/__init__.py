"""Celery tasks: thin adapters between the database and the ML core.

Tasks in ``workers.tasks.gpu`` are routed to the ``gpu`` queue (settings.CELERY_TASK_ROUTES);
all others run on ``default``. Each job task is ``curation.services.jobs.run(job_id, body)``.
"""

from . import drift, experiments, generation, health, hygiene, lifecycle, snapshots, training, webhooks  # noqa: F401
