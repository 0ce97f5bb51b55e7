"""Business rules, grouped by domain. Views, the API and Celery tasks call these; these call models.

Packages (each imports only the ones listed after it; ``lint-imports`` checks it):

- ``demo``: seeds the two demo projects.
- ``training/``: distillation requests, runs, the model registry, evaluation.
- ``teacher/``: generation and score jobs, prompt filters, soft-target writing, tiers.
- ``datasets/``: imports, snapshots, their files and downloads.
- ``review/``: decisions, bulk actions, leases, the example filter, stages and tiers, stats.
- ``gold/``: the gold set and its guard.
- ``projects/``, ``modelspecs``, ``recipes``: tokens and next steps; model specs; recipe defaults.
- ``jobs``, ``inputs``, ``errors``: the job lifecycle; the input gate; shared error types.

A job's launch rules and the body the worker runs live apart: ``<kind>.py`` / ``<kind>_job.py``.
"""
