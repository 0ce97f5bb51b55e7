from celery import shared_task


@shared_task(name="workers.tasks.snapshots.build", bind=True)
def build(self, job_id):
    """Freeze, hash and write the files of the snapshot a ``snapshot`` job names (queue default)."""
    from curation.services import datasets, jobs

    return jobs.run(job_id, datasets.run_build_job, node=self.request.hostname)
