from django.urls import path
from rest_framework.routers import SimpleRouter

from curation.api import experiments, hygiene, pairs, registry, runs, training
from curation.api.audit import AuditLogView
from curation.api.capture import CaptureView
from curation.api.drift import DriftReportViewSet
from curation.api.examples import ExampleViewSet
from curation.api.gold import GoldItemViewSet
from curation.api.imports import PromptImportView
from curation.api.jobs import JobCancelView, JobDetailView, JobListView
from curation.api.projects import ProjectApiViewSet, StageViewSet, TierViewSet
from curation.api.prompts import PromptViewSet
from curation.api.routing import RoutingView
from curation.api.snapshots import SnapshotViewSet
from curation.api.tokens import TokenViewSet
from curation.api.verdicts import VerdictViewSet

# Path syntax (not regex), so every project-scoped route reads <slug:slug> and the
# access matrix in tests/test_access.py can insist on a rule for it.
router = SimpleRouter(use_regex_path=False)
router.register("tokens", TokenViewSet, basename="api-tokens")
router.register("projects", ProjectApiViewSet, basename="api-projects")
P = "projects/<slug:slug>"
router.register(f"{P}/prompts", PromptViewSet, basename="api-prompts")
router.register(f"{P}/examples", ExampleViewSet, basename="api-examples")
router.register(f"{P}/examples/<int:example_id>/verdicts", VerdictViewSet, basename="api-verdicts")
router.register(f"{P}/tiers", TierViewSet, basename="api-tiers")
router.register(f"{P}/stages", StageViewSet, basename="api-stages")
router.register(f"{P}/gold", GoldItemViewSet, basename="api-gold")
router.register(f"{P}/snapshots", SnapshotViewSet, basename="api-snapshots")
router.register(f"{P}/drift-reports", DriftReportViewSet, basename="api-drift-reports")

urlpatterns = [
    path("projects/<slug:slug>/audit", AuditLogView.as_view(), name="api-audit"),
    path("projects/<slug:slug>/prompts/import", PromptImportView.as_view(), name="api-prompts-import"),
    path("projects/<slug:slug>/gold/check", hygiene.ContaminationCheckView.as_view(), name="api-gold-check"),
    path("projects/<slug:slug>/gold/import", hygiene.GoldImportView.as_view(), name="api-gold-import"),
    path("projects/<slug:slug>/hygiene", hygiene.HygieneSettingsView.as_view(), name="api-hygiene"),
    path("projects/<slug:slug>/redactions", hygiene.RedactionLogView.as_view(), name="api-redactions"),
    path("projects/<slug:slug>/capture", CaptureView.as_view(), name="api-capture"),
    path("projects/<slug:slug>/jobs", JobListView.as_view(), name="api-jobs"),
    path("projects/<slug:slug>/jobs/<int:pk>", JobDetailView.as_view(), name="api-job-detail"),
    path("projects/<slug:slug>/jobs/<int:pk>/cancel", JobCancelView.as_view(), name="api-job-cancel"),
    path("projects/<slug:slug>/distillations", training.DistillationLaunchView.as_view(), name="api-distillations"),
    path("projects/<slug:slug>/evaluations", training.EvaluationLaunchView.as_view(), name="api-evaluations"),
    path("projects/<slug:slug>/jobs/<int:pk>/resume", training.JobResumeView.as_view(), name="api-job-resume"),
    path("projects/<slug:slug>/jobs/<int:pk>/run-config", runs.RunConfigView.as_view(), name="api-job-run-config"),
    path(
        "projects/<slug:slug>/jobs/<int:pk>/register-run", runs.RegisterRunView.as_view(), name="api-job-register-run"
    ),
    path("projects/<slug:slug>/model-versions", registry.ModelVersionListView.as_view(), name="api-model-versions"),
    path(
        "projects/<slug:slug>/model-versions/<int:pk>",
        registry.ModelVersionDetailView.as_view(),
        name="api-model-version",
    ),
    path(
        "projects/<slug:slug>/model-versions/<int:pk>/download",
        registry.ModelVersionDownloadView.as_view(),
        name="api-model-version-download",
    ),
    path("projects/<slug:slug>/experiments", experiments.ExperimentListView.as_view(), name="api-experiments"),
    path(
        "projects/<slug:slug>/experiments/<int:pk>",
        experiments.ExperimentDetailView.as_view(),
        name="api-experiment",
    ),
    path(
        "projects/<slug:slug>/experiments/<int:pk>/cancel",
        experiments.ExperimentCancelView.as_view(),
        name="api-experiment-cancel",
    ),
    path("projects/<slug:slug>/eval-reports", registry.EvalReportListView.as_view(), name="api-eval-reports"),
    path("projects/<slug:slug>/eval-reports/<int:pk>", registry.EvalReportDetailView.as_view(), name="api-eval-report"),
    path("projects/<slug:slug>/eval-reports/<int:pk>/routing", RoutingView.as_view(), name="api-eval-report-routing"),
    path("projects/<slug:slug>/pairs/<int:pk>", pairs.PairResultsView.as_view(), name="api-pairs"),
    path("projects/<slug:slug>/pairs/<int:pk>/next", pairs.PairNextView.as_view(), name="api-pairs-next"),
    path(
        "projects/<slug:slug>/pairs/<int:pk>/items/<int:item>/verdict",
        pairs.PairVerdictView.as_view(),
        name="api-pairs-verdict",
    ),
    *router.urls,
]
