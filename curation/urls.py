from django.contrib.auth import views as auth_views
from django.urls import path

from curation.views import health, imports, projects
from curation.views import board, focus, gold, project_settings, queue  # reviewer workspace

urlpatterns = [
    path("", projects.project_list, name="project-list"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", health.healthz, name="healthz"),
    path("p/<slug:slug>/", projects.dashboard, name="project-dashboard"),
    path("p/<slug:slug>/import/", imports.import_page, name="project-import"),
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
