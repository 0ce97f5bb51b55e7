from django.urls import path
from rest_framework.routers import SimpleRouter

from curation.api.examples import ExampleViewSet
from curation.api.gold import GoldItemViewSet
from curation.api.imports import PromptImportView
from curation.api.projects import ProjectApiViewSet, StageViewSet, TierViewSet
from curation.api.prompts import PromptViewSet
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

urlpatterns = [
    path("projects/<slug:slug>/prompts/import", PromptImportView.as_view(), name="api-prompts-import"),
    *router.urls,
]
