"""Business rules, grouped by domain. Views, the API and Celery tasks call these; these call models.

Packages (each imports only the ones listed after it; ``lint-imports`` checks it):

- ``demo``: seeds the two demo projects.
- ``training/``: distillation requests, runs, the model registry, evaluation.
- ``teacher/``: generation and score jobs, prompt filters, soft-target writing, tiers.
- ``datasets/``: imports, snapshots, their files and downloads.
- ``review/``: decisions, bulk actions, leases, the example filter, stages and tiers, stats.
- ``gold/``: the gold set (one create and one update path), its guard, and who may see it.
- ``projects/``, ``modelspecs``, ``recipes``: tokens, next steps and the tier/stage lookup by name;
  model specs; recipe defaults.
- ``jobs``, ``inputs``, ``errors``: the job lifecycle; the input gate (its one number parser);
  the one error type for refused input (``Invalid``, and ``ReviewError``).

A job's launch rules and the body the worker runs live apart: ``<kind>.py`` / ``<kind>_job.py``.
"""
