from curation.models import Experiment


def experiment(project):
    return {"pk": Experiment.objects.create(project=project, name="e", arms=["curated"], seeds=1).pk}


ACCESS = {
    "experiment-list": ("get", "reader", None),
    "experiment-launch": ("get", "engineer", None),
    "experiment-detail": ("get", "reader", experiment),
    "experiment-cancel": ("post", "engineer", experiment),
    "api-experiments": ("post", "engineer", None),
    "api-experiment": ("get", "reader", experiment),
    "api-experiment-cancel": ("post", "engineer", experiment),
}
