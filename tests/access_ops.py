# Issue 18's pages and endpoints in the access matrix (tests/test_access.py): webhooks,
# production capture, routing simulation.
from curation.models import WebhookEndpoint


def webhook_kwargs(project):
    endpoint = WebhookEndpoint.objects.create(
        project=project, url="http://127.0.0.1:9/hook", events=["job.failed"], secret=WebhookEndpoint.new_secret()
    )
    return {"pk": endpoint.pk}


ACCESS = {
    "webhook-add": ("post", "engineer", None),
    "webhook-remove": ("post", "engineer", webhook_kwargs),
    "webhook-test": ("post", "engineer", webhook_kwargs),
    "api-capture": ("post", "engineer", None),
}
