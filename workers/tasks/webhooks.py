"""Webhook deliveries (queue ``default``): one try per run, Celery's retry for the backoff."""

from celery import shared_task


@shared_task(name="workers.tasks.webhooks.deliver", bind=True, max_retries=None)
def deliver(self, delivery_id: int) -> None:
    from curation.services import webhooks

    delay = webhooks.attempt(delivery_id)
    if delay is not None:
        raise self.retry(countdown=delay)
