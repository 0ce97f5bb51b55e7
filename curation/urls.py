from django.contrib.auth import views as auth_views
from django.urls import path

from curation.views import health, imports, jobs, projects, snapshots, tokens

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
]
