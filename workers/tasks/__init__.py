"""Celery tasks: thin adapters between the database and the ML core.

Tasks in ``workers.tasks.gpu`` are routed to the ``gpu`` queue (settings.CELERY_TASK_ROUTES);
all others run on ``default``.
"""
from . import health  # noqa: F401
