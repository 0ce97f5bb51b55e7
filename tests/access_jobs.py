from tests.factories import JobFactory


def job_kwargs(project):
    return {"pk": JobFactory(project=project).pk}


ACCESS = {
    "job-list": ("get", "reader", None),
    "job-detail": ("get", "reader", job_kwargs),
    "job-cancel": ("post", "engineer", job_kwargs),
}
