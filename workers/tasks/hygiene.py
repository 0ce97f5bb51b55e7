from celery import shared_task


@shared_task(name="workers.tasks.hygiene.check")
def check(job_id):
    """New prompts' contamination check, personal-data detection and duplicate clusters (queue default)."""
    from curation.services import hygiene, jobs

    return jobs.run(job_id, hygiene.run_hygiene_job)
