from django.urls import path

from curation.api import training
from curation.api.imports import PromptImportView
from curation.api.jobs import JobCancelView, JobDetailView, JobListView

urlpatterns = [
    path("projects/<slug:slug>/prompts/import", PromptImportView.as_view(), name="api-prompts-import"),
    path("projects/<slug:slug>/jobs", JobListView.as_view(), name="api-jobs"),
    path("projects/<slug:slug>/jobs/<int:pk>", JobDetailView.as_view(), name="api-job-detail"),
    path("projects/<slug:slug>/jobs/<int:pk>/cancel", JobCancelView.as_view(), name="api-job-cancel"),
    path("projects/<slug:slug>/distillations", training.DistillationLaunchView.as_view(), name="api-distillations"),
    path("projects/<slug:slug>/evaluations", training.EvaluationLaunchView.as_view(), name="api-evaluations"),
    path("projects/<slug:slug>/jobs/<int:pk>/resume", training.JobResumeView.as_view(), name="api-job-resume"),
    path("projects/<slug:slug>/model-versions", training.ModelVersionListView.as_view(), name="api-model-versions"),
    path("projects/<slug:slug>/model-versions/<int:pk>", training.ModelVersionDetailView.as_view(), name="api-model-version"),
    path("projects/<slug:slug>/model-versions/<int:pk>/download", training.ModelVersionDownloadView.as_view(),
         name="api-model-version-download"),
    path("projects/<slug:slug>/eval-reports", training.EvalReportListView.as_view(), name="api-eval-reports"),
    path("projects/<slug:slug>/eval-reports/<int:pk>", training.EvalReportDetailView.as_view(), name="api-eval-report"),
]
