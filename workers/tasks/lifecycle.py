"""Worker start-up: take over the jobs a killed worker left behind, then keep watching.

A job's worker records itself as ``node:pid``. When a node starts, the running jobs
recorded under its name belonged to its previous (dead) incarnation; they are
re-enqueued at once. A sweep every ``JOB_STALE_AFTER_S / 2`` seconds re-enqueues
running jobs of any node whose heartbeat went stale (a machine that vanished).
"""

import logging
import threading

from celery.signals import worker_ready, worker_shutting_down
from django.conf import settings
from django.db import close_old_connections

log = logging.getLogger(__name__)
_stop = threading.Event()


def _sweep(node: str) -> None:
    from curation.services.jobs import recover_jobs

    while not _stop.wait(max(settings.JOB_STALE_AFTER_S / 2, 5)):
        try:
            close_old_connections()
            recover_jobs(node)
        except Exception:
            log.exception("stale-job sweep failed")


@worker_ready.connect
def take_over_orphaned_jobs(sender=None, **_):
    from curation.services.jobs import recover_jobs

    node = getattr(sender, "hostname", None) or "celery"
    embedded = str(settings.CELERY_BROKER_URL).startswith("filesystem://")
    try:
        recover_jobs(node, startup=True, requeue_queued=embedded)
    except Exception:
        log.exception("could not recover jobs at start-up")
    _stop.clear()
    threading.Thread(target=_sweep, args=(node,), daemon=True, name="stale-job-sweep").start()


@worker_shutting_down.connect
def stop_sweeping(**_):
    _stop.set()
