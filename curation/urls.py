from django.contrib.auth import views as auth_views
from django.urls import path

from curation.views import generation, health, imports, jobs, modelspecs, projects, training
from curation.views import board, focus, gold, project_settings, queue  # reviewer workspace

urlpatterns = [
    path("", projects.project_list, name="project-list"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", health.healthz, name="healthz"),
    path("p/<slug:slug>/", projects.dashboard, name="project-dashboard"),
    path("p/<slug:slug>/import/", imports.import_page, name="project-import"),
    path("p/<slug:slug>/jobs/", jobs.job_list, name="job-list"),
    path("p/<slug:slug>/jobs/<int:pk>/", jobs.job_detail, name="job-detail"),
    path("p/<slug:slug>/jobs/<int:pk>/cancel", jobs.job_cancel, name="job-cancel"),
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
    # Reviewer workspace
    path("p/<slug:slug>/review/", queue.review_queue, name="review-queue"),
    path("p/<slug:slug>/review/counts/", queue.queue_counts, name="review-counts"),
    path("p/<slug:slug>/review/bulk/", queue.bulk, name="review-bulk"),
    path("p/<slug:slug>/review/next/", focus.next_for_me, name="review-next"),
    path("p/<slug:slug>/examples/<int:pk>/", focus.focus, name="review-focus"),
    path("p/<slug:slug>/examples/<int:pk>/heatmap/", focus.heatmap, name="review-heatmap"),
    path("p/<slug:slug>/examples/<int:pk>/<slug:action>/", focus.act, name="review-act"),
    path("p/<slug:slug>/board/", board.board, name="review-board"),
    path("p/<slug:slug>/gold/", gold.gold_list, name="gold-list"),
    path("p/<slug:slug>/gold/add/", gold.gold_add, name="gold-add"),
    path("p/<slug:slug>/gold/confirm/", gold.gold_confirm, name="gold-confirm"),
    path("p/<slug:slug>/gold/contamination/", gold.gold_contamination, name="gold-contamination"),
    path("p/<slug:slug>/gold/<int:pk>/", gold.gold_edit, name="gold-edit"),
    path("p/<slug:slug>/gold/<int:pk>/discard/", gold.gold_discard, name="gold-discard"),
    path("p/<slug:slug>/settings/", project_settings.project_settings, name="project-settings"),
    path("p/<slug:slug>/settings/curriculum/", project_settings.edit_curriculum, name="project-curriculum"),
]
