"""Celery tasks (thin, in ``workers/tasks/``) and the ML core (no Django imports)."""
