import uuid
from pathlib import Path

from django.conf import settings

from curation.models import EvalReport, Job, ModelVersion


def distill_job(project):
    return {"pk": Job.objects.create(project=project, kind=Job.Kind.DISTILL, params={"stages": [], "resumes": []}).pk}


def _version(project):
    # A real directory under the artifact store: the download must find files to pack.
    path = Path(settings.ARTIFACT_DIR) / "access-tests" / uuid.uuid4().hex / "final"
    path.mkdir(parents=True)
    (path / "config.json").write_text("{}")
    return ModelVersion.objects.create(project=project, name="v", is_final=True, artifact_path=str(path))


def version(project):
    return {"pk": _version(project).pk}


def report(project):
    return {"pk": EvalReport.objects.create(project=project, model_version=_version(project)).pk}


ACCESS = {
    "distill-launch": ("post", "engineer", None),
    "job-resume": ("post", "engineer", distill_job),
    "job-run-config": ("get", "engineer", distill_job),
    "model-list": ("get", "reader", None),
    "model-compare": ("get", "reader", None),
    "model-detail": ("get", "reader", version),
    "model-download": ("get", "reader", version),
    "model-evaluate": ("post", "engineer", version),
    "report-detail": ("get", "reader", report),
    "api-distillations": ("post", "engineer", None),
    "api-evaluations": ("post", "engineer", None),
    "api-job-resume": ("post", "engineer", distill_job),
    "api-job-run-config": ("get", "engineer", distill_job),
    "api-job-register-run": ("post", "engineer", distill_job),
    "api-model-versions": ("get", "reader", None),
    "api-model-version": ("get", "reader", version),
    "api-model-version-download": ("get", "reader", version),
    "api-eval-reports": ("get", "reader", None),
    "api-eval-report": ("get", "reader", report),
}
