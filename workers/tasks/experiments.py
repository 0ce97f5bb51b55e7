"""Experiments (queue ``default``): the preparation job, a thin adapter to the service."""

from celery import shared_task

from curation.services import jobs


@shared_task(name="workers.tasks.experiments.prepare", bind=True)
def prepare(self, job_id: int) -> str:
    """Build the raw arm's snapshot and launch the experiment's runs (distillation jobs on ``gpu``)."""
    from curation.services.experiments import run_experiment_job

    return jobs.run(job_id, run_experiment_job, node=self.request.hostname)
