"""Distillation and evaluation jobs (queue ``gpu``): thin adapters to the services."""

from celery import shared_task

from curation.services import jobs


@shared_task(name="workers.tasks.gpu.distill", bind=True)
def distill(self, job_id: int) -> str:
    from curation.services.training import run_distill_job

    return jobs.run(job_id, run_distill_job, node=self.request.hostname)


@shared_task(name="workers.tasks.gpu.evaluate", bind=True)
def evaluate(self, job_id: int) -> str:
    from curation.services.training import run_evaluation_job

    return jobs.run(job_id, run_evaluation_job, node=self.request.hostname)
