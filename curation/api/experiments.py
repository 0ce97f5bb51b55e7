"""Experiments over REST: launch (engineers), list and read with the results as JSON, cancel.

A launch request is validated by the service the launch form uses
(``services.experiments.launch_experiment``), so a bad request gets the form's messages keyed
by field (``recipe.stage.lr``, ``arms``, ``snapshots``). Reads refresh the runs' states, so a
client polling ``GET .../experiments/<id>`` sees progress, then the results.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from curation.access import project_for
from curation.api.registry import Pages
from curation.api.training import ERRORS, ID, SLUG
from curation.models import Experiment, Role
from curation.services.experiments import ARMS, MAX_SEEDS, cancel_experiment, launch_experiment, refresh
from workers.distill.config import GATE_METRICS, PRECISIONS
from workers.distill.losses import DIVERGENCES


# ---------------------------------------------------------------- requests
class RecipeGateSerializer(serializers.Serializer):
    metric = serializers.ChoiceField(choices=GATE_METRICS)
    threshold = serializers.FloatField()
    patience = serializers.IntegerField(required=False, default=0)
    split = serializers.ChoiceField(
        choices=["validation"],
        required=False,
        default="validation",
        help_text="Gates read each stage's validation split; any other split (gold) is refused: gold is the test set.",
    )


class RecipeStageSerializer(serializers.Serializer):
    steps = serializers.IntegerField(required=False, help_text="Optimizer steps per stage (give steps or epochs).")
    epochs = serializers.FloatField(required=False)
    lr = serializers.FloatField(required=False)
    warmup_steps = serializers.IntegerField(required=False)
    temperature = serializers.FloatField(required=False)
    alpha = serializers.FloatField(required=False, help_text="Weight of the KD term (the ce arm sets it to 0).")
    divergence = serializers.ChoiceField(choices=DIVERGENCES, required=False)
    jsd_beta = serializers.FloatField(required=False)
    replay_fraction = serializers.FloatField(required=False, help_text="From the second stage on.")
    gate = RecipeGateSerializer(required=False)


class RecipeSerializer(serializers.Serializer):
    batch_size = serializers.IntegerField(required=False)
    grad_accum = serializers.IntegerField(required=False)
    max_seq_len = serializers.IntegerField(required=False)
    mixed_precision = serializers.ChoiceField(choices=PRECISIONS, required=False)
    seed = serializers.IntegerField(required=False, help_text="The first seed; run k trains with seed + k.")
    checkpoint_every = serializers.IntegerField(required=False)
    stage = RecipeStageSerializer(required=False, help_text="Settings of every stage of every arm.")


class ExperimentRequestSerializer(serializers.Serializer):
    name = serializers.CharField()
    student_spec = serializers.IntegerField()
    teacher_spec = serializers.IntegerField(
        help_text="A local transformers teacher (every student is compared with it)."
    )
    snapshots = serializers.ListField(
        child=serializers.IntegerField(), help_text="Ready curated snapshots: the curriculum stages, in order."
    )
    arms = serializers.ListField(
        child=serializers.ChoiceField(choices=list(ARMS)),
        required=False,
        help_text="Default: every arm the snapshots can tell apart. curated (the reference) is required.",
    )
    seeds = serializers.IntegerField(required=False, default=3, min_value=1, max_value=MAX_SEEDS)
    recipe = RecipeSerializer(
        required=False, help_text="The base recipe; default: the student spec's own (defaults.distill)."
    )


# --------------------------------------------------------------- responses
class RunSerializer(serializers.Serializer):
    arm = serializers.CharField(source="run.arm")
    seed = serializers.IntegerField(source="run.seed")
    state = serializers.ChoiceField(
        choices=["waiting", "queued", "training", "gated", "evaluating", "done", "failed", "cancelled"]
    )
    detail = serializers.CharField()
    job = serializers.IntegerField(source="run.job_id", allow_null=True, help_text="The distillation job.")
    model_version = serializers.IntegerField(source="run.model_version_id", allow_null=True)
    eval_report = serializers.IntegerField(source="run.eval_report_id", allow_null=True)


class ExperimentSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    progress = serializers.SerializerMethodField(help_text="{done, total, eta_s}: runs ended so far, seconds left.")
    url = serializers.SerializerMethodField(help_text="The experiment's page.")

    class Meta:
        model = Experiment
        fields = [
            "id",
            "name",
            "status",
            "message",
            "arms",
            "seeds",
            "progress",
            "created_by",
            "created_at",
            "finished_at",
            "url",
        ]
        read_only_fields = fields

    def get_progress(self, experiment) -> dict:
        board = self.context.get("boards", {}).get(experiment.pk)
        if board is None:
            return {"done": None, "total": experiment.runs.count(), "eta_s": None}
        return {"done": board.done, "total": board.total, "eta_s": board.eta_s}

    def get_url(self, experiment) -> str:
        return reverse(
            "experiment-detail", args=[experiment.project.slug, experiment.pk], request=self.context.get("request")
        )


class ExperimentDetailSerializer(ExperimentSerializer):
    runs = serializers.SerializerMethodField()
    params = serializers.JSONField(help_text="The validated request: snapshots, recipe, arms, seeds, metric.")
    results = serializers.JSONField(
        help_text="metric, n_items, teacher, arms {mean, ci95, seeds}, questions [{key, title, comparisons [{a, b, "
        "difference, ci95, detectable, p_value, test, n_items, seeds, verdict}]}], learning_curve [{percent, "
        "mean, ci95}], notes, final."
    )

    class Meta(ExperimentSerializer.Meta):
        fields = ExperimentSerializer.Meta.fields + ["params", "raw_snapshot", "job", "runs", "results"]
        read_only_fields = fields

    def get_runs(self, experiment) -> list[dict]:
        board = self.context["boards"][experiment.pk]
        return RunSerializer(board.runs, many=True).data


EXAMPLE_RESULTS = {
    "metric": "accuracy",
    "metric_label": "accuracy",
    "n_items": 200,
    "teacher": {"mean": 0.915, "ci95": [0.869, 0.946], "n_items": 200},
    "arms": {"curated": {"label": "Curated · curriculum · KD", "mean": 0.887, "ci95": [0.85, 0.92], "seeds": 3}},
    "questions": [
        {
            "key": "curation",
            "title": "What is curation worth?",
            "comparisons": [
                {
                    "a": "shuffled",
                    "b": "raw",
                    "difference": 0.052,
                    "ci95": [0.021, 0.083],
                    "detectable": True,
                    "p_value": 0.0012,
                    "test": "paired permutation",
                    "n_items": 200,
                    "seeds": 3,
                    "verdict": "Curated · one shuffled stage beats Raw teacher output · one stage by 5.2 points "
                    "(95% CI +2.1 to +8.3 points, n = 200 gold items × 3 seeds; paired permutation p = 0.0012).",
                }
            ],
        }
    ],
    "learning_curve": [{"percent": 10, "arm": "fraction_10", "mean": 0.71, "ci95": [0.65, 0.77]}],
    "notes": [],
    "final": True,
}
EXAMPLE = {
    "id": 4,
    "name": "week 48: is curation paying?",
    "status": "done",
    "message": "",
    "arms": list(ARMS),
    "seeds": 3,
    "progress": {"done": 24, "total": 24, "eta_s": 0},
    "created_by": "alice",
    "created_at": "2026-11-25T13:00:00Z",
    "finished_at": "2026-11-25T17:40:00Z",
    "url": "https://curation.example/p/triage/experiments/4/",
}
REQUEST_EXAMPLE = {
    "name": "week 48: is curation paying?",
    "student_spec": 3,
    "teacher_spec": 1,
    "snapshots": [10, 11],
    "arms": ["curated", "raw", "shuffled", "random_order", "ce", "fraction_10", "fraction_25", "fraction_50"],
    "seeds": 3,
    "recipe": {"batch_size": 32, "stage": {"epochs": 3, "lr": 0.003, "temperature": 2.0, "alpha": 0.7}},
}


# ------------------------------------------------------------------- views
class ExperimentListView(generics.ListAPIView):
    """The project's experiments, newest first (readers); ``POST`` launches one (engineers)."""

    serializer_class = ExperimentSerializer
    pagination_class = Pages

    def get_queryset(self):
        project = project_for(self.request.user, self.kwargs["slug"])
        return Experiment.objects.filter(project=project).select_related("project", "created_by").order_by("-id")

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "boards": getattr(self, "boards", {})}

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        self.boards = {e.pk: refresh(e) for e in page or []}
        return page

    @extend_schema(
        operation_id="experiments_list",
        parameters=[SLUG],
        examples=[OpenApiExample("An experiment", response_only=True, value=EXAMPLE)],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="experiments_create",
        parameters=[SLUG],
        request=ExperimentRequestSerializer,
        responses={201: ExperimentDetailSerializer, 400: ERRORS},
        examples=[
            OpenApiExample("Every arm, three seeds", request_only=True, value=REQUEST_EXAMPLE),
            OpenApiExample(
                "Refused",
                response_only=True,
                status_codes=["400"],
                value={
                    "recipe.stage.gate.split": [
                        "'gold': selection never touches gold: gates read the snapshots' validation split only, "
                        "and gold is the test set, evaluated once per trained student"
                    ],
                    "arms": ["raw is compared with shuffled (both one stage, so only the data differ): add shuffled"],
                },
            ),
        ],
    )
    def post(self, request, slug):
        project = project_for(request.user, slug, Role.ENGINEER)
        experiment = launch_experiment(project, request.data, by=request.user)  # Invalid: a 400 (api/errors)
        return Response(_detail(request, experiment), status=status.HTTP_201_CREATED)


def _detail(request, experiment: Experiment) -> dict:
    board = refresh(experiment)
    context = {"request": request, "boards": {experiment.pk: board}}
    return ExperimentDetailSerializer(experiment, context=context).data


class ExperimentDetailView(APIView):
    """One experiment: its runs (arm, seed, state, job, model version, report) and its results."""

    @extend_schema(
        operation_id="experiments_retrieve",
        parameters=[SLUG, ID],
        responses={200: ExperimentDetailSerializer},
        examples=[
            OpenApiExample(
                "Done",
                response_only=True,
                value={
                    **EXAMPLE,
                    "params": {"snapshots": [{"id": 10, "name": "stage 1"}], "metric": "accuracy"},
                    "raw_snapshot": 12,
                    "job": 40,
                    "runs": [
                        {
                            "arm": "curated",
                            "seed": 0,
                            "state": "done",
                            "detail": "",
                            "job": 41,
                            "model_version": 20,
                            "eval_report": 9,
                        }
                    ],
                    "results": EXAMPLE_RESULTS,
                },
            )
        ],
    )
    def get(self, request, slug, pk):
        project = project_for(request.user, slug)
        experiment = get_object_or_404(
            Experiment.objects.select_related("project", "created_by"), project=project, pk=pk
        )
        return Response(_detail(request, experiment))


class ExperimentCancelView(APIView):
    """Cancel an experiment (engineers): queued runs are dropped, running ones stop after their step."""

    @extend_schema(
        operation_id="experiments_cancel",
        parameters=[SLUG, ID],
        request=None,
        responses={202: ExperimentDetailSerializer, 409: OpenApiResponse(description="The experiment has ended.")},
        examples=[
            OpenApiExample(
                "Cancelled",
                response_only=True,
                status_codes=["202"],
                value={
                    **EXAMPLE,
                    "status": "cancelled",
                    "message": "Cancelled: queued runs were dropped, running ones stop after their current step.",
                    "params": {},
                    "raw_snapshot": None,
                    "job": 40,
                    "runs": [],
                    "results": {},
                },
            )
        ],
    )
    def post(self, request, slug, pk):
        project = project_for(request.user, slug, Role.ENGINEER)
        experiment = get_object_or_404(Experiment.objects.select_related("project"), project=project, pk=pk)
        if not experiment.is_active:
            return Response(
                {"detail": f"The experiment is {experiment.get_status_display().lower()}; nothing to cancel."},
                status=status.HTTP_409_CONFLICT,
            )
        return Response(_detail(request, cancel_experiment(experiment)), status=status.HTTP_202_ACCEPTED)
