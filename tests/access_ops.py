# Issue 18's pages and endpoints in the access matrix (tests/test_access.py): webhooks,
# production capture, routing simulation.
from curation.models import EvalReport, WebhookEndpoint


def routed_report(project):
    """A report holding the per-item data the routing simulation reads (as an evaluation writes it)."""
    per_item = {
        "gold_ids": [1, 2, 3],
        "metric": "accuracy",
        "student": [1.0, 0.0, 1.0],
        "teacher": [1.0, 1.0, 1.0],
        "student_confidence": [0.9, 0.4, 0.7],
        "student_latency_s": [0.01, 0.01, 0.01],
        "teacher_latency_s": [0.05, 0.05, 0.05],
        "input_tokens": [10, 12, 9],
        "student_output_tokens": [0, 0, 0],
        "teacher_output_tokens": [0, 0, 0],
        "validation": {"ids": [7, 8], "student": [1.0, 0.0], "teacher": [1.0, 1.0], "student_confidence": [0.8, 0.3]},
    }
    return {"pk": EvalReport.objects.create(project=project, metrics={"task": "classification"}, per_item=per_item).pk}


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
    "api-eval-report-routing": ("get", "reader", routed_report),
}
