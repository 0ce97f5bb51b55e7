"""Teacher generation and scoring tasks (queue ``gpu``): thin adapters to the job bodies."""

from celery import shared_task


@shared_task(name="workers.tasks.gpu.generate", bind=True)
def generate(self, job_id):
    from curation.services import jobs, teacher

    return jobs.run(job_id, teacher.run_generation, node=self.request.hostname)


@shared_task(name="workers.tasks.gpu.score", bind=True)
def score(self, job_id):
    from curation.services import jobs, teacher

    return jobs.run(job_id, teacher.run_scoring, node=self.request.hostname)
