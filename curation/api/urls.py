from django.urls import path

from curation.api.imports import PromptImportView

urlpatterns = [
    path("projects/<slug:slug>/prompts/import", PromptImportView.as_view(), name="api-prompts-import"),
]
