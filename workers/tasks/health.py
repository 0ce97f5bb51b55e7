from celery import shared_task


@shared_task(name="workers.tasks.health.ping")
def ping(payload):
    """Echo: proves a message really travels broker -> worker -> result backend."""
    return {"pong": payload}
