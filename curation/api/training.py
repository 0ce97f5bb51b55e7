"""REST endpoints that launch distillation and evaluation jobs (the registry and reports: ``api/registry.py``).

Launch and resume requests are validated by the same services as the pages
(``validate_distillation`` / ``validate_evaluation``), so a bad request gets the very
messages the launch form shows, keyed by field (``stages.1.gate.threshold``). The
request serializers below describe the bodies for the schema; the services check them.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from curation.access import project_for
from curation.models import Job, Role
from curation.services.recipes import CURRICULUM_CHOICES, JOB_DEFAULTS, STAGE_DEFAULTS
from curation.services.training import launch_distillation, launch_evaluation, resume_distillation
from workers.distill.config import GATE_METRICS, LOWER_IS_BETTER, PRECISIONS
from workers.distill.losses import DIVERGENCES

SLUG = OpenApiParameter("slug", str, OpenApiParameter.PATH, description="The project's slug.")
ID = OpenApiParameter("id", int, OpenApiParameter.PATH)
ERRORS = OpenApiResponse(
    inline_serializer("FieldErrors", {"field": serializers.ListField(child=serializers.CharField())}),
    description="Messages keyed by the field they are about (dotted for stages; `__all__` for the request as a whole).",
    examples=[
        OpenApiExample(
            "A bad stage",
            value={
                "stages.1.alpha": ["stage 'hard': alpha must be between 0 and 1, got 1.5"],
                "stages.0.gate.metric": [
                    "a gate evaluates the snapshot's validation rows, and 'easy v3' has none; build it with a "
                    "validation fraction, or remove the gate"
                ],
            },
        )
    ],
)


# ---------------------------------------------------------------- serializers
class OnPolicySerializer(serializers.Serializer):
    fraction = serializers.FloatField(
        required=False, default=0.5, help_text="Share of the stage's micro-batches the student samples (0 to 1]."
    )
    temperature = serializers.FloatField(required=False, default=1.0, help_text="The student's sampling temperature.")
    max_new_tokens = serializers.IntegerField(required=False, default=64)
    beta = serializers.FloatField(
        required=False, default=0.5, help_text="Generalized JSD: 0 is forward KL, 1 reverse KL (GKD's convention)."
    )
    top_k = serializers.IntegerField(required=False, default=20, help_text="Teacher log-probabilities per token.")


class GateSerializer(serializers.Serializer):
    metric = serializers.ChoiceField(choices=GATE_METRICS)
    threshold = serializers.FloatField(
        help_text=f"Pass when the metric is <= this ({', '.join(sorted(LOWER_IS_BETTER))}) or >= this (the others)."
    )
    patience = serializers.IntegerField(
        required=False, default=0, help_text="Extra epochs tried before the job waits as gated."
    )


class StageRequestSerializer(serializers.Serializer):
    snapshot = serializers.IntegerField(
        help_text="A ready snapshot of this project: its train split trains, its validation split gates."
    )
    extra_snapshots = serializers.ListField(
        child=serializers.IntegerField(),
        required=False,
        help_text="More ready snapshots whose rows this stage also trains on (e.g. one shuffled stage over "
        "several curriculum stages).",
    )
    name = serializers.CharField(required=False, help_text="Default: the snapshot's curriculum stage, else its name.")
    steps = serializers.IntegerField(required=False, help_text="Optimizer steps (give steps or epochs).")
    epochs = serializers.FloatField(required=False)
    lr = serializers.FloatField(required=False, default=STAGE_DEFAULTS["lr"])
    warmup_steps = serializers.IntegerField(required=False, default=STAGE_DEFAULTS["warmup_steps"])
    temperature = serializers.FloatField(
        required=False,
        default=STAGE_DEFAULTS["temperature"],
        help_text="Generation over stored top-k soft targets: keep 1 unless k is wide; tempering the k + 1 "
        "buckets is not tempering the teacher's distribution (the job warns).",
    )
    alpha = serializers.FloatField(
        required=False, default=STAGE_DEFAULTS["alpha"], help_text="Weight of the KD term; 1 - alpha weighs CE."
    )
    divergence = serializers.ChoiceField(choices=DIVERGENCES, required=False, default=STAGE_DEFAULTS["divergence"])
    jsd_beta = serializers.FloatField(required=False, default=STAGE_DEFAULTS["jsd_beta"])
    replay_fraction = serializers.FloatField(
        required=False,
        default=STAGE_DEFAULTS["replay_fraction"],
        help_text="Share of all earlier stages' records mixed in.",
    )
    gate = GateSerializer(required=False, allow_null=True)
    on_policy = OnPolicySerializer(
        required=False,
        allow_null=True,
        help_text="Generation only: an on-policy (GKD) share of the stage; the teacher must answer at launch and "
        "while the stage trains (it scores the student's samples).",
    )


class DistillationRequestSerializer(serializers.Serializer):
    student_spec = serializers.IntegerField(help_text="A student ModelSpec (transformers backend).")
    teacher_spec = serializers.IntegerField(
        help_text="The teacher ModelSpec; its tokenizer decides token- vs sequence-level KD."
    )
    stages = StageRequestSerializer(many=True)
    batch_size = serializers.IntegerField(required=False, default=JOB_DEFAULTS["batch_size"])
    grad_accum = serializers.IntegerField(required=False, default=JOB_DEFAULTS["grad_accum"])
    max_seq_len = serializers.IntegerField(required=False, default=JOB_DEFAULTS["max_seq_len"])
    mixed_precision = serializers.ChoiceField(
        choices=PRECISIONS, required=False, default=JOB_DEFAULTS["mixed_precision"]
    )
    seed = serializers.IntegerField(required=False, default=JOB_DEFAULTS["seed"])
    checkpoint_every = serializers.IntegerField(
        required=False,
        default=JOB_DEFAULTS["checkpoint_every"],
        help_text="Optimizer steps between checkpoints; 0: stage ends only.",
    )
    order = serializers.ChoiceField(
        choices=CURRICULUM_CHOICES["order"],
        required=False,
        default=JOB_DEFAULTS["order"],
        help_text="curriculum: the stages as given; random: the control arm (same stage sizes, pacing and "
        "budget, examples dealt to stages at random).",
    )
    pacing = serializers.ChoiceField(
        choices=CURRICULUM_CHOICES["pacing"],
        required=False,
        default=JOB_DEFAULTS["pacing"],
        help_text="replay: a later stage revisits its replay_fraction of earlier examples; cumulative: all of them.",
    )
    budget = serializers.ChoiceField(
        choices=CURRICULUM_CHOICES["budget"],
        required=False,
        default=JOB_DEFAULTS["budget"],
        help_text="tier_visits: the stages' total steps are kept and re-split so every stage's examples get the "
        "visits one shuffled stage of that many steps gives them (hard data never starved); given: each stage's "
        "own steps or epochs.",
    )
    replay_share = serializers.FloatField(
        required=False,
        default=JOB_DEFAULTS["replay_share"],
        help_text="tier_visits: share of each later stage's draws spent on earlier data (0 to 0.95).",
    )
    hard_weight = serializers.FloatField(
        required=False,
        default=JOB_DEFAULTS["hard_weight"],
        help_text="tier_visits: the last stage's examples get this many times a shuffled run's visits (1 to 10).",
    )
    lr_schedule = serializers.ChoiceField(
        choices=CURRICULUM_CHOICES["lr_schedule"],
        required=False,
        default=JOB_DEFAULTS["lr_schedule"],
        help_text="per_stage: a fresh warmup and decay in every stage; global: one across the run (the first "
        "stage's learning rate and warmup).",
    )
    ce_warmup_fraction = serializers.FloatField(
        required=False,
        default=JOB_DEFAULTS["ce_warmup_fraction"],
        help_text="The first share of the run trains on CE only, then each stage's alpha (0 to 0.95).",
    )
    temperature_schedule = serializers.ChoiceField(
        choices=CURRICULUM_CHOICES["temperature_schedule"],
        required=False,
        default=JOB_DEFAULTS["temperature_schedule"],
        help_text="constant: each stage's temperature; anneal: from it linearly to 1 over the run.",
    )
    data_fraction = serializers.FloatField(
        required=False,
        default=1.0,
        help_text="Train on this share of each stage's training rows: a subsample fixed by `seed` (0 < f <= 1).",
    )


class ResumeRequestSerializer(serializers.Serializer):
    threshold = serializers.FloatField(
        required=False, allow_null=True, help_text="The gate's new threshold (recorded); default: unchanged."
    )
    extra_epochs = serializers.IntegerField(
        required=False, default=0, help_text="Train this many more epochs before judging."
    )
    force = serializers.BooleanField(
        required=False, default=False, help_text="Pass the gate even if it still fails (recorded)."
    )
    comment = serializers.CharField(required=False, allow_blank=True)


class EvaluationRequestSerializer(serializers.Serializer):
    model_version = serializers.IntegerField()
    teacher_spec = serializers.IntegerField(
        required=False, help_text="Default: the teacher the version was distilled from."
    )
    max_new_tokens = serializers.IntegerField(required=False, default=32)


class TrainingJobSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(help_text="The job's page.")

    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "status",
            "phase",
            "progress_done",
            "progress_total",
            "tokens_per_s",
            "eta_s",
            "message",
            "params",
            "metrics",
            "created_at",
            "started_at",
            "finished_at",
            "url",
        ]
        read_only_fields = fields

    def get_url(self, job) -> str:
        return reverse("job-detail", args=[job.project.slug, job.pk], request=self.context.get("request"))


JOB_EXAMPLE = {
    "id": 42,
    "kind": "distill",
    "status": "queued",
    "phase": "",
    "progress_done": 0,
    "progress_total": 0,
    "tokens_per_s": None,
    "eta_s": None,
    "message": "",
    "params": {"student_spec": 3, "teacher_spec": 1, "stages": ["…"]},
    "metrics": {},
    "created_at": "2026-11-25T13:00:00Z",
    "started_at": None,
    "finished_at": None,
    "url": "https://curation.example/p/support/jobs/42/",
}


def _job_response(request, launch, code=status.HTTP_201_CREATED) -> Response:
    """``launch()`` a job: its representation with ``code`` (an ``Invalid`` is the 400, in ``api/errors``)."""
    job = launch()
    return Response(TrainingJobSerializer(job, context={"request": request}).data, status=code)


class DistillationLaunchView(APIView):
    """Launch a staged distillation job (engineers)."""

    @extend_schema(
        operation_id="distillations_create",
        parameters=[SLUG],
        request=DistillationRequestSerializer,
        responses={201: TrainingJobSerializer, 400: ERRORS},
        examples=[
            OpenApiExample(
                "Two stages, gated",
                request_only=True,
                value={
                    "student_spec": 3,
                    "teacher_spec": 1,
                    "batch_size": 8,
                    "checkpoint_every": 200,
                    "stages": [
                        {
                            "snapshot": 10,
                            "name": "easy",
                            "epochs": 2,
                            "lr": 5e-4,
                            "temperature": 2.0,
                            "alpha": 0.5,
                            "gate": {"metric": "teacher_agreement", "threshold": 0.6, "patience": 1},
                        },
                        {
                            "snapshot": 11,
                            "name": "hard",
                            "steps": 400,
                            "lr": 2e-4,
                            "replay_fraction": 0.2,
                            "divergence": "jsd",
                            "jsd_beta": 0.5,
                            "gate": {"metric": "val_kd_loss", "threshold": 1.2},
                        },
                    ],
                },
            ),
            OpenApiExample("Queued", response_only=True, status_codes=["201"], value=JOB_EXAMPLE),
        ],
    )
    def post(self, request, slug):
        project = project_for(request.user, slug, Role.ENGINEER)
        return _job_response(request, lambda: launch_distillation(project, request.data, by=request.user))


class JobResumeView(APIView):
    """Resume a distillation job that waits at a gate (engineers); the decision is recorded."""

    @extend_schema(
        operation_id="jobs_resume",
        parameters=[SLUG, ID],
        request=ResumeRequestSerializer,
        responses={
            202: TrainingJobSerializer,
            400: ERRORS,
            409: OpenApiResponse(description="The job is not waiting at a gate."),
        },
        examples=[
            OpenApiExample(
                "Lower the threshold", request_only=True, value={"threshold": 0.5, "comment": "hard tier is noisy"}
            ),
            OpenApiExample("Train more, then force", request_only=True, value={"extra_epochs": 2, "force": True}),
            OpenApiExample(
                "Queued again",
                response_only=True,
                status_codes=["202"],
                value={
                    **JOB_EXAMPLE,
                    "message": "Resumed at the gate of stage 'easy' by alice: threshold 0.5 (was 0.6). “hard "
                    "tier is noisy”",
                },
            ),
        ],
    )
    def post(self, request, slug, pk):
        project = project_for(request.user, slug, Role.ENGINEER)
        job = get_object_or_404(Job, project=project, pk=pk)
        if job.kind != Job.Kind.DISTILL or job.status != Job.Status.GATED:
            return Response(
                {"detail": f"{job} is {job.get_status_display().lower()}, not waiting at a gate."},
                status=status.HTTP_409_CONFLICT,
            )
        data = request.data
        return _job_response(
            request,
            lambda: resume_distillation(
                job,
                by=request.user,
                threshold=data.get("threshold"),
                extra_epochs=data.get("extra_epochs", 0),
                force=data.get("force") in (True, "true", "1", "on", 1),
                comment=data.get("comment", ""),
            ),
            status.HTTP_202_ACCEPTED,
        )


class EvaluationLaunchView(APIView):
    """Evaluate a model version against a teacher on the project's confirmed gold items (engineers)."""

    @extend_schema(
        operation_id="evaluations_create",
        parameters=[SLUG],
        request=EvaluationRequestSerializer,
        responses={201: TrainingJobSerializer, 400: ERRORS},
        examples=[
            OpenApiExample("Evaluate a version", request_only=True, value={"model_version": 12, "teacher_spec": 1})
        ],
    )
    def post(self, request, slug):
        project = project_for(request.user, slug, Role.ENGINEER)
        return _job_response(request, lambda: launch_evaluation(project, request.data, by=request.user))
