from django.contrib.auth import views as auth_views
from django.urls import path

from curation.views import generation, health, imports, jobs, modelspecs, projects, snapshots, tokens, training

urlpatterns = [
    path("", projects.project_list, name="project-list"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", health.healthz, name="healthz"),
    path("tokens/", tokens.token_list, name="token-list"),
    path("tokens/<int:pk>/revoke", tokens.token_revoke, name="token-revoke"),
    path("p/<slug:slug>/", projects.dashboard, name="project-dashboard"),
    path("p/<slug:slug>/import/", imports.import_page, name="project-import"),
    path("p/<slug:slug>/jobs/", jobs.job_list, name="job-list"),
    path("p/<slug:slug>/jobs/<int:pk>/", jobs.job_detail, name="job-detail"),
    path("p/<slug:slug>/jobs/<int:pk>/cancel", jobs.job_cancel, name="job-cancel"),
    path("p/<slug:slug>/snapshots/", snapshots.snapshot_list, name="snapshot-list"),
    path("p/<slug:slug>/snapshots/<int:pk>/", snapshots.snapshot_detail, name="snapshot-detail"),
    path("p/<slug:slug>/jobs/<int:pk>/resume", training.job_resume, name="job-resume"),
    path("p/<slug:slug>/distill/new/", training.distill_launch, name="distill-launch"),
    path("p/<slug:slug>/models/", training.model_list, name="model-list"),
    path("p/<slug:slug>/models/compare/", training.model_compare, name="model-compare"),
    path("p/<slug:slug>/models/<int:pk>/", training.model_detail, name="model-detail"),
    path("p/<slug:slug>/models/<int:pk>/download", training.model_download, name="model-download"),
    path("p/<slug:slug>/models/<int:pk>/evaluate", training.model_evaluate, name="model-evaluate"),
    path("p/<slug:slug>/reports/<int:pk>/", training.report_detail, name="report-detail"),
    path("p/<slug:slug>/jobs/<int:pk>/retry", generation.job_retry, name="job-retry"),
    path("p/<slug:slug>/generate/", generation.generate_page, name="gen-launch"),
    path("p/<slug:slug>/generate/count", generation.prompt_count, name="gen-prompt-count"),
    path("p/<slug:slug>/score/", generation.score_page, name="score-launch"),
    path("p/<slug:slug>/model-specs/", modelspecs.spec_list, name="modelspec-list"),
    path("p/<slug:slug>/model-specs/<int:pk>/", modelspecs.spec_edit, name="modelspec-edit"),
    path("p/<slug:slug>/model-specs/<int:pk>/check", modelspecs.spec_check, name="modelspec-check"),
]
