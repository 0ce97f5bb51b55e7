from django.urls import path

from curation.api.imports import PromptImportView
from curation.api.jobs import JobCancelView, JobDetailView, JobListView

urlpatterns = [
    path("projects/<slug:slug>/prompts/import", PromptImportView.as_view(), name="api-prompts-import"),
    path("projects/<slug:slug>/jobs", JobListView.as_view(), name="api-jobs"),
    path("projects/<slug:slug>/jobs/<int:pk>", JobDetailView.as_view(), name="api-job-detail"),
    path("projects/<slug:slug>/jobs/<int:pk>/cancel", JobCancelView.as_view(), name="api-job-cancel"),
]
